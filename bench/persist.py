"""Time and size of litfit's persistence against plain `torch.save`/`torch.load` of the same state, and the cost of
checkpointing during training.

For the digits CNN (26k parameters) and a resnet18 with a 10-class head (11.7M parameters), each operation is timed
(median of `--reps`, on a warm file cache) against the plain torch call doing the same job:

- `save` (model + Adam state, atomic write)   vs `torch.save({'model': sd, 'opt': opt_sd})`
- `load` (weights-only, into the Learner)      vs `torch.load(weights_only=False)` + `load_state_dict`
- `export` (safetensors + JSON, a factory)     vs `torch.save(model)` (a pickle of the model object)
- `load_learner`                               vs `torch.load(weights_only=False)` of that pickle
- a `Checkpoint` write (model, optimizer, random states, history)  vs `torch.save` of model + optimizer

Then the overhead of `Checkpoint(every_n_batches=50)` on training epochs of the digits CNN (batches of 64).

    python bench/persist.py [--reps 7]
"""
import argparse, io, os, statistics, tempfile, time, warnings
from pathlib import Path
import torch
from torch import nn
from litfit.all import *
from litfit.checkpoint import Checkpoint
from litfit.vision_learner import vision_model

def med(f, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000

def learner(kind, path):
    torch.manual_seed(0)
    if kind == 'digits CNN':
        learn = Learner(digits_dls(device='cpu'), digits_cnn(), path=path)
        xb = learn.dls.one_batch()[0]
    else:
        x, y = torch.rand(64, 3, 64, 64), torch.randint(0, 10, (64,))
        learn = Learner(DataLoaders.from_tensors(x, y, x, y, bs=32, device='cpu', vocab=[str(i) for i in range(10)]),
                        vision_model(resnet18, 10, pretrained=False), path=path)
        xb = x[:32]
    learn.create_opt()
    learn.model.train(); learn.model(xb).sum().backward(); learn.opt.step(); learn.opt.zero_grad()  # Adam state exists
    return learn

def main(reps):
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, median of {reps}, times in ms")
    for kind in ('digits CNN', 'resnet18'):
        d = Path(tempfile.mkdtemp())
        learn = learner(kind, d)
        n = sum(p.numel() for p in learn.model.parameters())
        print(f"\n{kind}: {n / 1e6:.2f}M parameters")
        raw = d / 'raw.pth'
        rows = []
        t_save = med(lambda: learn.save('m'), reps)
        t_raw = med(lambda: torch.save({'model': learn.model.state_dict(), 'opt': learn.opt.state_dict()}, raw), reps)
        rows.append(('save (model + optimizer)', t_save, t_raw, (d / 'models' / 'm.pth').stat().st_size, raw.stat().st_size))
        def raw_load():
            s = torch.load(raw, weights_only=False); learn.model.load_state_dict(s['model']); learn.opt.load_state_dict(s['opt'])
        rows.append(('load', med(lambda: learn.load('m'), reps), med(raw_load, reps), None, None))
        pick = d / 'model.pkl'
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            t_exp = med(lambda: learn.export('export.pkl'), reps)
            t_rawexp = med(lambda: torch.save(learn.model, pick), reps)
        rows.append(('export / torch.save(model)', t_exp, t_rawexp, (d / 'export.pkl').stat().st_size, pick.stat().st_size))
        rows.append(('load_learner / torch.load(model)', med(lambda: load_learner(d / 'export.pkl'), reps),
                     med(lambda: torch.load(pick, weights_only=False), reps), None, None))
        ck = Checkpoint(fname='ck'); ck.learn = learn; ck.epoch_rng = None
        learn.n_epoch = learn.epoch = learn.train_iter = learn.pct_train = 0
        learn.fit_stage = 0
        rows.append(('Checkpoint write / torch.save', med(lambda: ck.write(0, 1), reps), t_raw, (d / 'models' / 'ck.pth').stat().st_size, raw.stat().st_size))
        print(f"  {'operation':<34}{'litfit':>9}{'torch':>9}{'ratio':>8}{'litfit size':>14}{'torch size':>12}")
        for name, a, b, sa, sb in rows:
            sizes = f"{sa / 1e6:>12.2f}MB{sb / 1e6:>10.2f}MB" if sa else ''
            print(f"  {name:<34}{a:>9.2f}{b:>9.2f}{a / b:>7.2f}x{sizes}")
    d = Path(tempfile.mkdtemp())
    def epoch(cbs):
        torch.manual_seed(0)
        learn = Learner(digits_dls(bs=64, device='cpu'), digits_cnn(), path=d)
        with learn.no_bar(), learn.no_logging():
            t = time.perf_counter(); learn.fit(3, cbs=cbs); return (time.perf_counter() - t) * 1000
    plain, ck = [], []
    for _ in range(reps):
        plain.append(epoch([])); ck.append(epoch([Checkpoint(every_n_batches=50)]))
    p, c = statistics.median(plain), statistics.median(ck)
    print(f"\ntraining the digits CNN, 3 epochs of 22 batches: {p:.1f} ms without checkpoints, {c:.1f} ms with "
          f"Checkpoint(every_n_batches=50) (4 writes: 1 mid-run, 3 at epoch ends): {c / p:.3f}x")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--reps', type=int, default=7)
    torch.set_num_threads(1)
    main(ap.parse_args().reps)
