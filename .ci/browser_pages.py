"""Open every rendered page in headless Chromium and check what a reader would see.

    python .ci/browser_pages.py SITE OUT      # SITE from .ci/render.py; screenshots go to OUT/pages/

The pages are served over HTTP on loopback, as the site would be. For each page: it loads without a console error,
every image (the plots) has loaded with a non-zero size, every link to another page of the site (and its anchor,
when it has one) resolves, and no output shows a Python traceback or an error. A full-page screenshot of each is
saved. Prints one line per page and exits with 1 on any failure.
"""
import functools, os, http.server, json, sys, threading
from pathlib import Path
from urllib.parse import urlparse, unquote
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
CHECKS = """() => {
  const imgs = [...document.images].map(i => ({src: i.src.slice(0, 60), ok: i.complete && i.naturalWidth > 0}));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const errs = [...document.querySelectorAll('.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output')]
    .map(e => e.innerText).filter(t => /Traceback \\(most recent call last\\)|^\\w*Error: /m.test(t));
  return {imgs, links, ids, errs, text: document.body.innerText.length};
}"""

def serve(root:Path):
    "An HTTP server for `root` on a free loopback port, in a thread."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    handler = functools.partial(Quiet, directory=str(root))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv

def check_links(page:str, links:list, site:Path, ids_of) -> list:
    "The links of `page` to the site that do not resolve (a missing page, or a missing anchor)."
    bad = []
    for href in links:
        u = urlparse(href)
        if u.scheme in ('http', 'https', 'mailto', 'data') or u.netloc: continue
        target = unquote(u.path) or page
        if not (site / target).exists(): bad.append(href); continue
        if u.fragment and u.fragment not in ids_of(target): bad.append(href)
    return bad

def main(site:Path, out:Path) -> int:
    pages = json.loads((site / 'pages.json').read_text())
    (out / 'pages').mkdir(parents=True, exist_ok=True)
    srv, failures, ids = serve(site), 0, {}
    base = f'http://127.0.0.1:{srv.server_address[1]}/'
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu'])
        page = browser.new_page(viewport={'width': 1280, 'height': 900})
        console = []
        page.on('console', lambda m: console.append(m.text) if m.type == 'error' else None)
        page.on('pageerror', lambda e: console.append(str(e)))
        def ids_of(name):
            if name not in ids:
                page.goto(base + name, wait_until='load'); ids[name] = set(page.evaluate(CHECKS)['ids'])
            return ids[name]
        for info in pages:
            name = info['page']
            console.clear()
            page.goto(base + name, wait_until='load')
            r = page.evaluate(CHECKS)
            ids[name] = set(r['ids'])
            page.screenshot(path=str(out / 'pages' / (name.replace('.html', '.png'))), full_page=True)
            errors = list(console)
            bad_imgs = [i['src'] for i in r['imgs'] if not i['ok']]
            bad_links = check_links(name, r['links'], site, ids_of)
            problems = ([f'{len(bad_imgs)} image(s) not loaded: {bad_imgs[:3]}'] if bad_imgs else []) + \
                       ([f'broken links: {bad_links}'] if bad_links else []) + \
                       ([f'tracebacks or errors shown: {[t[:120] for t in r["errs"]]}'] if r['errs'] else []) + \
                       ([f'console errors: {errors[:3]}'] if errors else []) + \
                       (['empty page'] if r['text'] < 200 else [])
            failures += bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} {name:<28} {len(r['imgs']):>3} images, {len(r['links']):>3} links"
                  + (': ' + '; '.join(problems) if problems else ''), flush=True)
        browser.close()
    srv.shutdown()
    print(f"{len(pages) - failures} of {len(pages)} pages passed; screenshots in {out / 'pages'}")
    return int(failures > 0)

if __name__ == '__main__': sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
