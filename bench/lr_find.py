"""Wall time of `Learner.lr_find` against the same number of plain training steps, and the cost of its snapshot.

lr_find runs `num_it` training batches with an exponentially growing learning rate, reads the smoothed loss after
each (one host sync per batch), cancels validation, and snapshots / restores the model, optimizer and random state in
memory. We compare it with `Learner.fit` over exactly the same number of batches (no validation set, so neither
validates) and with a hand-written loop (the same optimizer work: decay and no-decay groups, fused AdamW), on the digits CNN (real 8x8 images) and on an MLP over random 28x28 inputs.
One thread, interleaved repetitions in alternating order, medians. lr_find runs with `stop_div=False` and
`end_lr=0.1` so that it always does all `num_it` batches, and `show_plot=False`.

    python bench/lr_find.py [--reps 9] [--num_it 100]
"""
import torch
torch.set_num_threads(1)
import argparse, contextlib, copy, io, platform, statistics, time
from torch import nn
import torch.nn.functional as F

from litfit.data import DataLoaders, TensorDataLoader
from litfit.learner import Learner
from litfit.losses import CrossEntropyLossFlat
from litfit.datasets import digits_arrays
from litfit.datasets import digits_cnn
from litfit.lr_find import training_state, restore_training_state


def mlp(): return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))

def digits_data(n_batches):
    images, labels = digits_arrays()
    x = images.float().div(255).unsqueeze(1)
    n = n_batches * 64
    return x[:n], labels[:n]

def random_data(n_batches):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n_batches * 64, 1, 28, 28, generator=g), torch.randint(0, 10, (n_batches * 64,), generator=g)

def make_learner(model, x, y):
    dl = TensorDataLoader(x, y, bs=64, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0))
    learn = Learner(DataLoaders(dl, device='cpu'), model, loss_func=CrossEntropyLossFlat(), lr=1e-3)
    learn.logger = lambda *a: None
    return learn

def timed(f):
    start = time.perf_counter(); f(); return time.perf_counter() - start

def raw(model, x, y, steps):
    "Forward, loss, backward, step, zero_grad, with the optimizer work litfit's default Adam does (as bench/overhead.py)."
    no_decay = {id(p) for m in model.modules() for p in m.parameters(recurse=False)
                if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)) or p.ndim < 2}
    groups = [{'params': [p for p in model.parameters() if id(p) not in no_decay]},
              {'params': [p for p in model.parameters() if id(p) in no_decay], 'weight_decay': 0.}]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01, fused=True)
    g = torch.Generator().manual_seed(0)
    model.train()
    def run():
        done = 0
        while done < steps:
            idx = torch.randperm(len(x), generator=g)
            for i in range(len(x) // 64):
                if done == steps: break
                b = idx[i * 64:(i + 1) * 64]
                F.cross_entropy(model(x[b]), y[b]).backward(); opt.step(); opt.zero_grad(); done += 1
    return timed(run)

def bench(name, make_model, data, reps, num_it):
    n_batches, n_epoch = 25, num_it // 25
    x, y = data(n_batches)
    torch.manual_seed(0); init = make_model().state_dict()
    def fresh():
        m = make_model(); m.load_state_dict(copy.deepcopy(init)); return m
    sink = io.StringIO()
    def fit():
        learn = make_learner(fresh(), x, y)
        with contextlib.redirect_stderr(sink), learn.no_bar(): return timed(lambda: learn.fit(n_epoch))
    def lr_find():
        learn = make_learner(fresh(), x, y)
        with contextlib.redirect_stderr(sink), learn.no_bar():
            t = timed(lambda: learn.lr_find(end_lr=0.1, num_it=num_it, stop_div=False, show_plot=False))
        assert len(learn.lr_find_result.lrs) == num_it
        return t
    variants = {'raw loop': lambda: raw(fresh(), x, y, num_it), 'Learner.fit': fit, 'Learner.lr_find': lr_find}
    for f in variants.values(): f()  # warm-up
    times = {k: [] for k in variants}
    for r in range(reps):
        for k in (list(variants) if r % 2 == 0 else list(reversed(variants))): times[k].append(variants[k]())
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{name}: {num_it} training batches of 64, median of {reps} interleaved runs")
    for k, v in med.items(): print(f"  {k:<16} {v * 1000:8.1f} ms  ({v / num_it * 1000:.3f} ms/batch)")
    print(f"  lr_find / fit      {med['Learner.lr_find'] / med['Learner.fit']:.3f}x   (target <= 1.10x)")
    print(f"  lr_find / raw      {med['Learner.lr_find'] / med['raw loop']:.3f}x")

def bench_snapshot(name, make_model, data=random_data, reps=15):
    "Time to snapshot and restore a Learner that has trained (weights + Adam state + RNG)."
    learn = make_learner(make_model(), *data(2))
    with learn.no_bar(), contextlib.redirect_stderr(io.StringIO()): learn.fit(1)
    n = sum(p.numel() for p in learn.model.parameters())
    snap, rest = [], []
    for _ in range(reps):
        t = time.perf_counter(); st = training_state(learn); snap.append(time.perf_counter() - t)
        t = time.perf_counter(); restore_training_state(learn, st); rest.append(time.perf_counter() - t)
    print(f"  {name:<28} {n / 1e6:6.2f}M params: snapshot {statistics.median(snap) * 1000:7.2f} ms, "
          f"restore {statistics.median(rest) * 1000:7.2f} ms")

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=9)
    ap.add_argument('--num_it', type=int, default=100)
    a = ap.parse_args()
    if a.num_it % 25: ap.error('--num_it must be a multiple of 25 (the loaders have 25 batches)')
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads {torch.get_num_threads()}")
    bench('digits CNN (real 8x8 digits)', digits_cnn, digits_data, a.reps, a.num_it)
    bench('MLP 784-256-10 (random 28x28 inputs)', mlp, random_data, a.reps, a.num_it)
    print("\nsnapshot / restore of the training state (in memory: deepcopy of state dicts, RNG states)")
    bench_snapshot('digits CNN', digits_cnn, digits_data)
    bench_snapshot('MLP 784-256-10', mlp)
    bench_snapshot('MLP 784-2048-2048-10', lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 2048), nn.ReLU(),
                                                                  nn.Linear(2048, 2048), nn.ReLU(), nn.Linear(2048, 10)))
