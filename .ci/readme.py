"""Make README.md from nbs/index.ipynb (nbdev_readme needs Quarto, which cannot be installed here).

    python .ci/readme.py            # write README.md from the notebook's cells and saved outputs
    python .ci/readme.py --execute  # run the notebook first (with execnb, as nbdev_test does), saving its outputs
    python .ci/readme.py --check    # exit 1 if README.md is not what the notebook gives

Markdown cells are copied; code cells become ```python blocks (without `#|` directives); text outputs become plain
blocks; `#| hide` cells are left out. The result depends only on the notebook, so the check is exact.
"""
import json, os, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NB, README = ROOT / 'nbs' / 'index.ipynb', ROOT / 'README.md'

def _src(cell): return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']

def _text_outputs(cell):
    res = []
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream' and o.get('name') == 'stdout': res.append(''.join(o['text']))
        elif 'data' in o and 'text/plain' in o['data'] and not any(k.startswith('image/') or 'widget' in k for k in o['data']):
            res.append(''.join(o['data']['text/plain']))
    return ''.join(r if r.endswith('\n') else r + '\n' for r in res)

def render(nb:dict) -> str:
    parts = []
    for cell in nb['cells']:
        src = _src(cell)
        lines = src.splitlines()
        if any(l.strip() in ('#| hide', '#|hide') for l in lines): continue
        if cell['cell_type'] == 'markdown': parts.append(src.strip() + '\n')
        elif cell['cell_type'] == 'code':
            code = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
            if code: parts.append(f"```python\n{code}\n```\n")
            out = _text_outputs(cell)
            if out.strip(): parts.append(f"```\n{out.rstrip()}\n```\n")
    return '<!-- Generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, not this file -->\n\n' + '\n'.join(parts)

def execute():
    os.environ.setdefault('TQDM_DISABLE', '1')
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    nb = read_nb(NB)
    os.chdir(NB.parent)
    CaptureShell().run_all(nb, exc_stop=True)
    write_nb(nb, NB)

if __name__ == '__main__':
    if '--execute' in sys.argv: execute()
    text = render(json.loads(NB.read_text()))
    if '--check' in sys.argv:
        if README.read_text() != text:
            sys.exit("README.md is out of date with nbs/index.ipynb: run `python .ci/readme.py` and commit")
        print("README.md is in sync with nbs/index.ipynb")
    else:
        README.write_text(text); print(f"wrote {README.relative_to(ROOT)}")
