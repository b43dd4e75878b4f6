"""The lr_find picker and the progress bars in a real browser: `.ci/widgets.ipynb` served by Voila, driven by Playwright.

    python .ci/browser_widgets.py OUT       # screenshots go to OUT/widgets/

Checks, in headless Chromium on a page Voila serves on loopback:
1. the picker shows its plot, slider and apply button; dragging the slider's handle changes the chosen rate shown in
   the label and redraws the plot (the marker moves: the image changes);
2. pressing apply makes the kernel set `learn.lr` to the chosen rate: the kernel writes `learn.lr` to a file, which
   must match the rate the label shows, and the label then reports `learn.lr`;
3. the fit's progress bars finished: the epoch bar is full, the batch bar is no longer shown, and no widget failed to display
   (no "Error displaying widget", no widget left loading), and the results table was printed.
Prints each check and exits with 1 on any failure.
"""
import os, re, socket, subprocess, sys, tempfile, time
from pathlib import Path
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def wait_up(port:int, proc, timeout:float=60):
    "Wait until the server listens on `port` (Voila executes the notebook on the first request, not before)."
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None: raise RuntimeError(f"voila exited with {proc.returncode}")
        try: socket.create_connection(('127.0.0.1', port), timeout=1).close(); return
        except OSError: time.sleep(0.5)
    raise TimeoutError(f"voila did not listen on port {port} within {timeout} s")

def main(out:Path) -> int:
    (out / 'widgets').mkdir(parents=True, exist_ok=True)
    lr_file, port = Path(tempfile.mkdtemp()) / 'lr.txt', free_port()
    env = dict(os.environ, LITFIT_LR_OUT=str(lr_file), OMP_NUM_THREADS='1')
    env.pop('TQDM_DISABLE', None)
    log = open(out / 'widgets' / 'voila.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'voila', str(ROOT / '.ci' / 'widgets.ipynb'), '--no-browser',
                             f'--port={port}', '--Voila.ip=127.0.0.1', '--show_tracebacks=True'], env=env, stdout=log, stderr=log)
    results = []
    def check(name, ok, detail=''):
        results.append(ok); print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ''), flush=True)
    try:
        url = f'http://127.0.0.1:{port}/'
        wait_up(port, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu'])
            page = browser.new_page(viewport={'width': 1100, 'height': 1400})
            page.goto(url, timeout=180_000)
            handle = page.locator('.noUi-handle').first
            handle.wait_for(timeout=120_000)
            label, image = page.locator('.widget-html-content').filter(has_text='chosen').first, page.locator('.widget-image').first
            page.wait_for_function("() => [...document.querySelectorAll('.widget-html-content')].some(e => /chosen/.test(e.innerText))", timeout=60_000)
            chosen = lambda: re.search(r'chosen\s+([\d.e+-]+)', label.inner_text())[1]
            before, img_before = chosen(), image.screenshot()
            page.screenshot(path=str(out / 'widgets' / 'picker_before.png'), full_page=True)
            box = handle.bounding_box()
            x, y = box['x'] + box['width'] / 2, box['y'] + box['height'] / 2
            page.mouse.move(x, y); page.mouse.down(); page.mouse.move(x - 40, y, steps=8); page.mouse.up()
            page.wait_for_function(f"() => !document.body.innerText.includes('chosen {before}')", timeout=30_000)
            page.wait_for_timeout(1000)                             # the kernel redraws the plot after the label
            after = chosen()
            check('dragging the slider changes the chosen rate', float(after) < float(before), f'{before} -> {after}')
            check('the plot is redrawn with the marker moved', image.screenshot() != img_before)
            page.get_by_role('button', name='apply').click()
            page.wait_for_function("() => document.body.innerText.includes('learn.lr =')", timeout=30_000)
            t0 = time.time()
            while not lr_file.exists() and time.time() - t0 < 10: time.sleep(0.2)
            py_lr = float(lr_file.read_text()) if lr_file.exists() else None
            shown = re.search(r'learn\.lr = ([\d.e+-]+)', label.inner_text())[1]
            check('apply sets learn.lr in the kernel to the chosen rate', py_lr is not None and f'{py_lr:.2e}' == after == shown,
                  f'kernel learn.lr={py_lr}, label chosen={after}, label learn.lr={shown}')
            page.screenshot(path=str(out / 'widgets' / 'picker_applied.png'), full_page=True)
            bars = page.evaluate("""() => [...document.querySelectorAll('.widget-hprogress, .widget-progress')].filter(e => e.offsetParent !== null).map(e => {
                const bar = e.querySelector('.progress-bar'); const row = e.closest('.widget-hbox') || e.parentElement;
                return {width: bar ? bar.style.width : null, text: row ? row.innerText : ''}; })""")
            text = page.locator('body').inner_text()
            check('the epoch bar finished (2/2)', any(b['width'] == '100%' and '2/2' in b['text'] for b in bars), str(bars))
            check('the batch bar is gone after the fit', len(bars) == 1, f'{len(bars)} visible bar(s)')
            check('no widget failed to display', 'Error displaying widget' not in text and 'Loading widget' not in text)
            check('the results table was printed', re.search(r'epoch\s+train_loss\s+valid_loss\s+accuracy', text) is not None)
            page.screenshot(path=str(out / 'widgets' / 'fit.png'), full_page=True)
            browser.close()
    except Exception as e:
        check('the widget page ran', False, f'{type(e).__name__}: {e} (voila log: {out / "widgets" / "voila.log"})')
    finally:
        proc.terminate(); proc.wait(10); log.close()
    print(f"{sum(results)} of {len(results)} widget checks passed; screenshots in {out / 'widgets'}")
    return int(not all(results))

if __name__ == '__main__': sys.exit(main(Path(sys.argv[1])))
