"""Run notebooks and save their outputs in them, so readers on GitHub and on the docs site see what each example shows.

    python .ci/execute.py                  # every notebook in nbs/
    python .ci/execute.py nbs/07_learner.ipynb nbs/index.ipynb

Cells run as `nbdev_test` runs them (each notebook in its own folder; `#| eval: false` cells and cells calling
`nbdev_export` are skipped; `#| cuda` cells run only where CUDA is available), with progress bars off
(`TQDM_DISABLE=1`) so the saved outputs hold no bar noise. Then `nbdev_clean` strips execution counts and metadata.
A notebook that raises is left unchanged and the script exits with 1.
"""
import os, sys, subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SETUP = "import matplotlib; matplotlib.rcParams['figure.dpi'] = 72  # saved figures at screen resolution"

def run(nb_path:Path) -> bool:
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from nbdev.process import NBProcessor, extract_directives
    import torch
    nb = read_nb(nb_path)
    skip = {'cuda'} if not torch.cuda.is_available() else set()
    def _skip(cell):
        if cell.cell_type != 'code': return True
        if 'nbdev_export' + '(' in cell.source: return True
        d = extract_directives(cell, remove=False)
        if d.get('eval:', [''])[0].lower() == 'false': return True
        return bool(skip & d.keys())
    cwd = os.getcwd()
    os.chdir(nb_path.parent)
    shell = CaptureShell(nb_path, mpl_format='png')
    shell.run_cell(_SETUP)
    try: shell.run_all(nb, exc_stop=True, preproc=_skip)
    except Exception:
        sys.stderr.write(shell.prettytb(fname=nb_path) + '\n'); return False
    finally: os.chdir(cwd)
    for c in nb.cells:
        if c.cell_type == 'code' and _skip(c): c.outputs = []
    write_nb(nb, nb_path)
    return True

if __name__ == '__main__':
    os.environ['TQDM_DISABLE'] = '1'
    os.environ.setdefault('MPLBACKEND', 'Agg')
    nbs = [Path(p).resolve() for p in sys.argv[1:]] or sorted(p for p in (ROOT / 'nbs').glob('*.ipynb') if not p.name.startswith('_'))
    failed = [p.name for p in nbs if not (print(f'executing {p.name}', flush=True) or run(p))]
    subprocess.run(['nbdev_clean'], cwd=ROOT, check=True)
    if failed: sys.exit(f"failed: {', '.join(failed)}")
