"""Per-batch overhead of `Learner.fit` against a hand-written PyTorch loop.

The same models (an MLP and a small CNN), the same optimizer (fastai's Adam numbers on torch's fused AdamW kernel,
which is what litfit's default `Adam` uses on the CPU), the same in-memory batches of 64, on the CPU with one thread.
Each repetition trains one epoch with each variant, in turn (alternating the order), from the same initial weights;
we report the median time per batch. The hand-written loop is the minimal one: forward, loss, backward, step,
zero_grad, with no loss tracking at all; litfit also records the loss of every batch, the learning rates and the epoch
mean, and keeps fastai's rule of no weight decay on biases (a second parameter group).

"raw (torch default AdamW)" is the same hand-written loop with the optimizer most people write,
`torch.optim.AdamW(model.parameters(), ...)`, which on the CPU takes torch's slower per-tensor path: it shows what
litfit's choice of kernel buys, and is not part of the overhead ratio.

    python bench/overhead.py [--reps 15] [--batches 100]
"""
import argparse, copy, io, statistics, sys, time, contextlib
import torch
from torch import nn
import torch.nn.functional as F

from litfit.data import DataLoaders
from litfit.learner import Learner
from litfit.losses import CrossEntropyLossFlat

def mlp(): return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
def cnn(): return nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1),
                                nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))

def raw_epoch(model, batches, lr, fused=True):
    "The loop people write by hand: forward, loss, backward, step, zero_grad."
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01, fused=fused or None)
    model.train()
    start = time.perf_counter()
    for xb, yb in batches:
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
    return time.perf_counter() - start

def litfit_epoch(model, batches, lr, bar):
    learn = Learner(DataLoaders(batches, device='cpu'), model, loss_func=CrossEntropyLossFlat(), lr=lr)
    learn.logger = lambda *a: None
    sink = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(sink):
        if bar: learn.fit(1)
        else:
            with learn.no_bar(): learn.fit(1)
    return time.perf_counter() - start

def bench(name, make_model, shape, reps, n_batches):
    torch.manual_seed(0)
    batches = [(torch.randn(64, *shape), torch.randint(0, 10, (64,))) for _ in range(n_batches)]
    init = make_model().state_dict()
    def fresh():
        m = make_model(); m.load_state_dict(copy.deepcopy(init)); return m
    variants = {'raw': lambda: raw_epoch(fresh(), batches, 1e-3),
                'litfit (no bar)': lambda: litfit_epoch(fresh(), batches, 1e-3, bar=False),
                'litfit (bar)': lambda: litfit_epoch(fresh(), batches, 1e-3, bar=True),
                'raw (torch default AdamW)': lambda: raw_epoch(fresh(), batches, 1e-3, fused=False)}
    for f in variants.values(): f()  # warm-up
    times = {k: [] for k in variants}
    for r in range(reps):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))  # interleaved, alternating order
        for k in order: times[k].append(variants[k]() / n_batches * 1000)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{name}: median ms/batch over {reps} interleaved epochs of {n_batches} batches of 64")
    for k, v in med.items():
        print(f"  {k:<26} {v:8.3f} ms/batch   ratio to raw {v / med['raw']:.3f}")
    return med

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--reps', type=int, default=15); p.add_argument('--batches', type=int, default=100)
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, CPU, 1 thread")
    res = {'MLP 784-256-10': bench('MLP 784-256-10', mlp, (1, 28, 28), args.reps, args.batches),
           'CNN 2 conv': bench('CNN 2 conv', cnn, (1, 28, 28), args.reps, args.batches)}
    print("\nTargets: litfit/raw <= 1.05 without bars, <= 1.10 with bars.")
    for name, m in res.items():
        nb, b = m['litfit (no bar)'] / m['raw'], m['litfit (bar)'] / m['raw']
        print(f"  {name}: no bar {nb:.3f} ({'met' if nb <= 1.05 else 'MISSED'}), bar {b:.3f} ({'met' if b <= 1.10 else 'MISSED'})")
