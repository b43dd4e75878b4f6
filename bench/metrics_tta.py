"""Memory and time of exact whole-epoch metrics, and of test-time augmentation, against their baselines.

1. RMSE over a large synthetic validation set (a linear model on 8 features), by `validate()`:
   litfit's `rmse` (running sums on the device) against accumulate-everything (`AccumMetric` of
   `sqrt(mse_loss)`, which is how fastai computes its `rmse`), for 250k, 1M and 2M rows. Each run is a fresh
   process; the figure is the growth of its peak resident memory during `validate()`. Target: flat in the rows.
2. `tta(n)` for n = 1, 4, 8 on 200k items with 100 classes (a batch transform adds noise in the augmented passes),
   against one validation pass (`get_preds`), against the same passes done by hand (one plain pass and n passes through
   the augmentation, which costs time of its own), and against fastai's algorithm done by hand (stack the n passes, then
   average). Targets: time at most (n+1) x 1.05 validation passes; peak memory flat in n.

    python bench/metrics_tta.py [--reps 5]
"""
import argparse, json, resource, statistics, subprocess, sys, time
import torch
from torch import nn
import torch.nn.functional as F
from litfit.data import DataLoaders
from litfit.learner import Learner
from litfit.metrics import rmse, AccumMetric
from litfit.tta import augmented
from litfit.vision_transforms import Transform

def peak_mb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def rmse_child(kind:str, rows:int, reps:int) -> dict:
    "Validate a linear model on `rows` rows with one RMSE metric; the time, the value and the peak memory growth."
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 8, generator=g); y = x @ torch.randn(8, 1, generator=g) + 0.1 * torch.randn(rows, 1, generator=g)
    torch.manual_seed(0)
    metric = rmse if kind == 'streaming' else AccumMetric(lambda p, t: torch.sqrt(F.mse_loss(p, t)))
    learn = Learner(DataLoaders.from_tensors(x[:4096], y[:4096], x, y, bs=4096, device='cpu'), nn.Linear(8, 1), metrics=metric)
    with learn.no_bar(): learn.validate(dl=DataLoaders.from_tensors(x[:40960], y[:40960], bs=4096, shuffle=False, device='cpu').train)
    before, ts = peak_mb(), []
    with learn.no_bar():
        for _ in range(reps):
            t = time.perf_counter(); res = learn.validate(); ts.append(time.perf_counter() - t)
    return {'time': statistics.median(ts), 'rmse': float(res[1]), 'peak_growth_mb': peak_mb() - before}

class Noise(Transform):
    "Gaussian noise on the inputs, in training behaviour only (so in tta's augmented passes)."
    split_idx = 0
    def encodes(self, x, split_idx): return x + 0.1 * torch.randn_like(x)

def tta_learner(items:int=200_000, classes:int=100) -> Learner:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(items, 64, generator=g), torch.randint(0, classes, (items,), generator=g)
    torch.manual_seed(0)
    return Learner(DataLoaders.from_tensors(x[:4096], y[:4096], x, y, bs=1024, device='cpu'), nn.Linear(64, classes))

def stacked_tta(learn:Learner, n:int):
    "fastai's algorithm: keep every augmented pass, stack them, average, blend."
    aug = augmented(learn.dls.valid, batch_tfms=Noise())
    passes = [learn.get_preds(dl=aug, reorder=False)[0] for _ in range(n)]
    preds, targs = learn.get_preds(reorder=False)
    return torch.lerp(torch.stack(passes).mean(0), preds, 0.25), targs

def tta_time_child(n:int, reps:int) -> dict:
    "Median times of one plain pass, one augmented pass, `tta(n)` and the stacked algorithm, interleaved in one process."
    learn, ts = tta_learner(), {'valid': [], 'augmented': [], 'tta': [], 'stacked': []}
    aug = augmented(learn.dls.valid, batch_tfms=Noise())
    fs = {'valid': lambda: learn.get_preds(), 'augmented': lambda: learn.get_preds(dl=aug, reorder=False),
          'tta': lambda: learn.tta(n=n, batch_tfms=Noise()), 'stacked': lambda: stacked_tta(learn, n)}
    with learn.no_bar():
        learn.get_preds()                                                       # warm-up
        for _ in range(reps):
            for k, f in fs.items():
                t = time.perf_counter(); f(); ts[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in ts.items()}

def tta_mem_child(kind:str, n:int) -> dict:
    "Growth of the peak resident memory during one `tta(n)` (or the stacked algorithm), after a warm-up pass."
    learn = tta_learner()
    with learn.no_bar():
        learn.get_preds()
        before = peak_mb()
        learn.tta(n=n, batch_tfms=Noise()) if kind == 'litfit' else stacked_tta(learn, n)
    return {'peak_growth_mb': peak_mb() - before}

def child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, '--child', *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])

def main(reps:int):
    print(f"torch {torch.__version__}, 1 thread, each figure from a fresh process; memory = growth of peak RSS during the run")
    print(f"\nexact RMSE over the validation set, validate(), batches of 4096, median of {reps}")
    print(f"  {'rows':>9}{'streaming s':>13}{'accumulate s':>14}{'time ratio':>12}{'streaming MB':>14}{'accumulate MB':>15}{'|rmse diff|':>13}")
    for rows in (250_000, 1_000_000, 2_000_000):
        s, a = child('rmse', 'streaming', rows, reps), child('rmse', 'accumulate', rows, reps)
        print(f"  {rows:>9,}{s['time']:>13.3f}{a['time']:>14.3f}{s['time'] / a['time']:>11.2f}x"
              f"{s['peak_growth_mb']:>14.1f}{a['peak_growth_mb']:>15.1f}{abs(s['rmse'] - a['rmse']):>13.1e}")
    print(f"\ntta on 200,000 items x 100 classes (batches of 1024), median of {reps}, all times of one row in one process")
    print(f"  {'n':>3}{'plain pass s':>14}{'aug. pass s':>13}{'tta s':>8}{'/ (n+1) plain':>15}{'/ same passes':>15}"
          f"{'stacked s':>11}{'tta / stacked':>15}{'tta MB':>8}{'stacked MB':>12}")
    for n in (1, 4, 8):
        t, m, sm = child('tta', 'time', n, reps), child('tta', 'litfit', n), child('tta', 'stacked', n)
        print(f"  {n:>3}{t['valid']:>14.3f}{t['augmented']:>13.3f}{t['tta']:>8.3f}{t['tta'] / ((n + 1) * t['valid']):>14.3f}x"
              f"{t['tta'] / (t['valid'] + n * t['augmented']):>14.3f}x{t['stacked']:>11.3f}{t['tta'] / t['stacked']:>14.3f}x"
              f"{m['peak_growth_mb']:>8.0f}{sm['peak_growth_mb']:>12.0f}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--child', nargs='+')
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.child:
        what, kind, *rest = args.child
        if what == 'rmse': res = rmse_child(kind, int(rest[0]), int(rest[1]))
        else: res = tta_time_child(int(rest[0]), int(rest[1])) if kind == 'time' else tta_mem_child(kind, int(rest[0]))
        print(json.dumps(res))
    else: main(args.reps)
