"""Per-batch overhead of `Learner.fit` against a hand-written PyTorch loop.

The same models (an MLP and a small CNN), the same in-memory batches of 64, on the CPU with one thread, and the same
optimizer work: fastai's Adam numbers (betas 0.9/0.99, eps 1e-5, weight decay 0.01 except on biases and norm layers)
on torch's fused AdamW kernel, which is what litfit's default `Adam` builds. The hand-written loop sets that up the way
careful PyTorch code does (nanoGPT's `configure_optimizers`: a decay group and a no-decay group, `fused=True`) and is
the minimal loop: forward, loss, backward, step, zero_grad, with no loss tracking. litfit also records every batch's
loss, the learning rates and the epoch means. Each repetition trains one epoch with each variant, in turn (alternating
the order), from the same initial weights; we report the median wall time per batch.

"raw, 1 group, torch default AdamW" is the loop most tutorials write, `torch.optim.AdamW(model.parameters(), ...)`:
weight decay on everything and torch's default (slower, on the CPU) per-tensor kernel. It is shown for reference,
to see what litfit's defaults cost or save against it, and is not the baseline of the overhead ratio.

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

def raw_epoch(model, batches, lr, nanogpt=True):
    "The loop people write by hand: forward, loss, backward, step, zero_grad."
    if nanogpt:
        no_decay = {id(p) for m in model.modules() for p in m.parameters(recurse=False)
                    if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)) or p.ndim < 2}
        groups = [{'params': [p for p in model.parameters() if id(p) not in no_decay]},
                  {'params': [p for p in model.parameters() if id(p) in no_decay], 'weight_decay': 0.}]
        opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01, fused=True)
    else: opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01)
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
    learn.create_opt()  # as the raw loop builds its optimizer before its clock starts
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
                'raw, 1 group, torch default AdamW': lambda: raw_epoch(fresh(), batches, 1e-3, nanogpt=False)}
    for f in variants.values(): f()  # warm-up
    times = {k: [] for k in variants}
    for r in range(reps):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))  # interleaved, alternating order
        for k in order: times[k].append(variants[k]() / n_batches * 1000)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{name}: median ms/batch over {reps} interleaved epochs of {n_batches} batches of 64")
    for k, v in med.items():
        print(f"  {k:<34} {v:8.3f} ms/batch   ratio to raw {v / med['raw']:.3f}")
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
