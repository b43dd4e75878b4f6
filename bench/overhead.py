"""Per-batch overhead of `Learner.fit` against a hand-written PyTorch loop.

The same models (an MLP and a small CNN), the same in-memory batches of 64, on the CPU with one thread, and the same
optimizer work: fastai's Adam numbers (betas 0.9/0.99, eps 1e-5, weight decay 0.01 except on biases and norm layers)
on torch's fused AdamW kernel, which is what litfit's default `Adam` builds. The hand-written loop sets that up the way
careful PyTorch code does (nanoGPT's `configure_optimizers`: a decay group and a no-decay group, `fused=True`) and is
the minimal loop: forward, loss, backward, step, zero_grad, with no loss tracking. litfit also records every batch's
loss, the learning rates and the epoch means. Each repetition trains one epoch with each variant, in turn (alternating
the order), from the same initial weights; we report the median wall time per batch, and as the ratio the median
over repetitions of the ratio within each repetition (the variants of one repetition run back to back, so a slow spell
of a shared machine slows both sides of a ratio; ratios of separate medians moved by up to 10% between runs here),
with a 95% bootstrap interval in brackets. The process is pinned to one CPU where the OS allows it.

"raw, 1 group, torch default AdamW" is the loop most tutorials write, `torch.optim.AdamW(model.parameters(), ...)`:
weight decay on everything and torch's default (slower, on the CPU) per-tensor kernel. It is shown for reference,
to see what litfit's defaults cost or save against it, and is not the baseline of the overhead ratio.

Then the same comparison with the optimizer a user passes as `opt_func` (`partial(torch.optim.AdamW, ...)`): the
hand-written loop builds that optimizer on the same parameter groups litfit builds, and `fit` and `fit_one_cycle` are
compared with it (and `fit_one_cycle` also with the loop plus torch's `OneCycleLR`). The targets are set on these
ratios, a few percent apart, so this comparison runs 91 repetitions (`--user-reps`) spread over 7 fresh Python processes (`--procs`),
and also times the hand-written loop a second time ("raw, again"): that ratio would be 1 on a quiet machine, and how
far it strays shows the noise of the run. Separate processes, because a process's memory layout (address
randomisation, hash seeds) biases a timing for as long as the process lives (Mytkowicz et al., "Producing wrong data
without doing anything obviously wrong", ASPLOS 2009; pyperf spawns worker processes for the same reason): here one
process measured `fit` at 1.02x and the next at 1.22x. The interval resamples whole processes, then repetitions.
After every timed epoch the cycle collector runs, untimed: a Learner and its callbacks refer to each other, so a
dropped Learner's model and optimizer state wait for the collector, while the raw loop's are freed at once.

The same comparison is then made in lockstep (`--lockstep-reps`, over as many processes), which is what the targets
are judged on. Timing whole epochs in turn still leaves each ratio exposed to the machine changing speed between the
two epochs it compares: on this shared VM the raw loop's own step went from 2.5 to 7.0 ms within one process, and the
"raw, again" control strayed by several percent per process. In lockstep the two loops advance one batch at a time,
alternately: the variant trains from a loader (`Lockstep`) that, before it hands over each batch, runs one step of the
hand-written loop on a model and optimizer of its own and times it. The variant's own time is its epoch's wall time
less those raw steps, so it includes everything the variant does, `fit`'s set-up and end included, and the two sides
of each ratio are measured within milliseconds of each other. Each side's step starts where the other's left the
caches, alike for both. The control, the hand-written loop trained from the same `Lockstep` loader ("raw, again"),
reads 1.00 to within about 1% per process here, against several percent when whole epochs alternate. Two checks come
with it. "raw + Python spin" adds a fixed amount of Python work per batch, timed on its own: lockstep must charge it to
the variant, showing that much over the control. And since each variant has its raw steps next to it, a cost the
variant causes but that lands in the raw steps (a page fault on memory the variant gave back, say) would count as the raw
loop's: the minor page faults of each side are printed, and the raw steps' faults next to `fit` should be no more than
next to the control. The control reads a little above 1 (1.004-1.009 in recent runs): the loop in the variant's seat
pays for following the loader's step. The ratios over the control are printed too, as what `fit` costs against the
hand-written loop measured the same way; the targets are judged on the plain ratios, which are the stricter.

`--instructions` counts, instead of timing, the instructions each of these user's-optimizer variants executes in its
timed section (one epoch each, after a warm-up), with valgrind's callgrind. Unlike a time, the count does not depend on
what else the machine is doing (the child also runs with a fixed hash seed; two runs agreed to within 0.05%), so it
measures the work the loop adds, though not what that work costs in cache misses and page faults.
It runs the variants in a child process under valgrind (about 50 times slower; some 15 minutes here).

With CUDA (`--gpu`, on by default when a GPU is present): a resnet18 (10 classes) on synthetic 64x64 images, batches
of 64 already on the GPU, in images per second against the hand-written loop doing the same work in the same run: in
float32, with mixed precision (autocast + GradScaler against `learn.to_fp16()`), and compiled (`torch.compile` against
`learn.compile()`); and the host-device synchronisations per training batch of litfit's default configuration and
of `to_fp16()`, counted with `torch.cuda.set_sync_debug_mode('warn')` over whole batches (from one batch's start to the
next's: the loader, the step and every callback's `after_batch`), without progress bars. `--gpu-only` runs this
section alone (a few minutes, most of it compiling).

`--attribute` also runs the MLP with a Learner whose batch is the raw loop's body (no events but `after_batch`), with and
without the default callbacks, to split `fit`'s extra time into the fit around the batches, the callbacks, and the loop
(as many repetitions and processes as the comparison above).

    python bench/overhead.py --lockstep-only [--lockstep-reps 49] [--procs 7]
    python bench/overhead.py [--reps 31] [--user-reps 91] [--lockstep-reps 49] [--batches 100] [--gpu | --no-gpu] [--attribute]
    python bench/overhead.py --instructions
    python bench/overhead.py --gpu-only [--reps 9]
"""
import argparse, copy, gc, glob, io, multiprocessing, os, resource, shutil, statistics, subprocess, sys, tempfile, time, contextlib
import numpy as np
from functools import partial
import torch
from torch import nn
import torch.nn.functional as F

from litfit.data import DataLoaders
from litfit.learner import Learner
from litfit.losses import CrossEntropyLossFlat
from litfit.optimizer import param_groups, norm_bias_params

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

USER_OPT = partial(torch.optim.AdamW, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01)   # what a user passes as opt_func

def user_opt(model, lr): return USER_OPT(param_groups([list(model.parameters())], no_wd=norm_bias_params(model)), lr=lr)

def raw_user_epoch(model, batches, lr, one_cycle=False):
    "The hand-written loop with the optimizer the user passes to litfit, on the same parameter groups litfit builds."
    opt = user_opt(model, lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=len(batches), pct_start=0.25) if one_cycle else None
    model.train()
    start = time.perf_counter()
    for xb, yb in batches:
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        if sched is not None: sched.step()
    return time.perf_counter() - start

def litfit_user_epoch(model, batches, lr, one_cycle):
    learn = Learner(DataLoaders(batches, device='cpu'), model, loss_func=CrossEntropyLossFlat(), lr=lr, opt_func=USER_OPT)
    learn.logger = lambda *a: None
    learn.create_opt()
    start = time.perf_counter()
    with learn.no_bar():
        if one_cycle: learn.fit_one_cycle(1, lr)
        else: learn.fit(1)
    return time.perf_counter() - start

def data_and_models(make_model, shape:tuple, n_batches:int):
    "`n_batches` batches of 64 random inputs and classes, and `fresh()`: a new model with the same initial weights each call."
    torch.manual_seed(0)
    batches = [(torch.randn(64, *shape), torch.randint(0, 10, (64,))) for _ in range(n_batches)]
    init = make_model().state_dict()
    def fresh():
        m = make_model(); m.load_state_dict(copy.deepcopy(init)); return m
    return batches, fresh

def interleaved(variants:dict, reps:int, n_batches:int) -> dict:
    "ms per batch of each variant in each repetition: a warm-up, then every variant in turn, alternating the order."
    for f in variants.values(): f(); gc.collect()
    times = {k: [] for k in variants}
    for r in range(reps):
        for k in (list(variants) if r % 2 == 0 else list(reversed(variants))):
            times[k].append(variants[k]() / n_batches * 1000)
            gc.collect()  # a dropped Learner's model and optimizer wait for the cycle collector: collect them untimed
    return times

class BareBatchLearner(Learner):
    "A Learner whose batch is the raw loop's body plus the `after_batch` event: no other events, wrappers or moves."
    def one_batch(self, i, b):
        self.iter, (xb, yb) = i, b
        self.xb, self.yb = (xb,), (yb,)
        self.pred = self.model(xb)
        self.loss_grad = F.cross_entropy(self.pred, yb); self.loss = self.loss_grad.detach()
        self.loss_grad.backward(); self.opt.opt.step(); self.opt.opt.zero_grad()
        self('after_batch')

def bare_epoch(model, batches, lr, default_cbs=True):
    learn = BareBatchLearner(DataLoaders(batches, device='cpu'), model, loss_func=CrossEntropyLossFlat(), lr=lr,
                             opt_func=USER_OPT, default_cbs=default_cbs)
    learn.logger = lambda *a: None
    learn.create_opt()
    start = time.perf_counter()
    with learn.no_bar(): learn.fit(1)
    return time.perf_counter() - start

def attribute_times(make_model, shape, reps, n_batches) -> dict:
    "ms per batch of the raw loop, of `fit` with the raw loop's body (without, then with the default callbacks), and of `fit`."
    torch.set_num_threads(1); pin_cpu()
    batches, fresh = data_and_models(make_model, shape, n_batches)
    variants = {'raw': lambda: raw_user_epoch(fresh(), batches, 1e-3),
                'fit, bare batch, no callbacks': lambda: bare_epoch(fresh(), batches, 1e-3, False),
                'fit, bare batch, default callbacks': lambda: bare_epoch(fresh(), batches, 1e-3, True),
                'fit': lambda: litfit_user_epoch(fresh(), batches, 1e-3, False)}
    return interleaved(variants, reps, n_batches)

def attribute(make_model, shape, reps, n_batches, procs):
    "Where `fit`'s extra time goes: the fit around the batches, the default callbacks, then the per-batch loop itself."
    runs = in_fresh_processes(attribute_times, procs, make_model, shape, -(-reps // procs), n_batches)
    times = {k: sum((r[k] for r in runs), []) for k in runs[0]}
    print(f"\nWhere the time goes (MLP, user's AdamW, {len(times['raw'])} interleaved epochs in {procs} processes): ratio to raw")
    for k in times:
        lo, hi = process_ci(runs, k, 'raw')
        print(f"  {k:<36} {paired(times, k, 'raw'):.3f} [{lo:.3f}-{hi:.3f}]")

def paired(times:dict, k:str, base:str) -> float:
    "The median over repetitions of `k`'s time over `base`'s in the same repetition (run back to back)."
    return statistics.median(a / b for a, b in zip(times[k], times[base]))

def paired_ci(times:dict, k:str, base:str, n:int=2000) -> tuple:
    "A 95% bootstrap interval for `paired(times, k, base)` over this run's repetitions (reruns on a shared VM moved further)."
    r = np.array([a / b for a, b in zip(times[k], times[base])])
    meds = np.median(np.random.default_rng(0).choice(r, (n, len(r))), axis=1)
    return tuple(np.percentile(meds, [2.5, 97.5]))

def fmt_ratio(times:dict, k:str, base:str) -> str:
    lo, hi = paired_ci(times, k, base)
    return f"{paired(times, k, base):.3f} [{lo:.3f}-{hi:.3f}]"

def pin_cpu() -> str:
    "Keep the process on one CPU: moved to another core, it restarts with cold caches (a shared VM's ratios swung by several percent)."
    if not hasattr(os, 'sched_setaffinity'): return 'not pinned'
    cpu = max(os.sched_getaffinity(0)); os.sched_setaffinity(0, {cpu})
    return f'pinned to CPU {cpu}'

def user_times(make_model, shape, reps, n_batches) -> dict:
    "ms per batch of the hand-written loop (twice), with OneCycleLR, `fit` and `fit_one_cycle`, all with the user's AdamW."
    torch.set_num_threads(1); pin_cpu()
    batches, fresh = data_and_models(make_model, shape, n_batches)
    variants = {'raw': lambda: raw_user_epoch(fresh(), batches, 1e-3),
                'raw, again': lambda: raw_user_epoch(fresh(), batches, 1e-3),
                'raw + OneCycleLR': lambda: raw_user_epoch(fresh(), batches, 1e-3, one_cycle=True),
                'fit': lambda: litfit_user_epoch(fresh(), batches, 1e-3, False),
                'fit_one_cycle': lambda: litfit_user_epoch(fresh(), batches, 1e-3, True)}
    return interleaved(variants, reps, n_batches)

def minor_faults() -> int:
    "Minor page faults of this thread so far (of the process where threads cannot be told apart)."
    return resource.getrusage(getattr(resource, 'RUSAGE_THREAD', resource.RUSAGE_SELF)).ru_minflt

class Lockstep:
    "A loader of `batches` that, before it gives each batch, runs one hand-written training step on its own `model`, timed."
    def __init__(self, batches, model, lr=1e-3):
        self.batches, self.model, self.opt, self.raw, self.faults = batches, model, user_opt(model, lr), 0., 0
    def __len__(self): return len(self.batches)
    def __iter__(self):
        clock, model, opt = time.perf_counter, self.model, self.opt
        model.train()
        for xb, yb in self.batches:
            faults = minor_faults(); start = clock()
            loss = F.cross_entropy(model(xb), yb); loss.backward(); opt.step(); opt.zero_grad()
            self.raw += clock() - start; self.faults += minor_faults() - faults
            yield xb, yb

def spin_epoch(model, batches, lr, n:int=3000) -> tuple:
    "The hand-written loop plus a fixed amount of Python work per batch (`sum(range(n))`, timed): a known added cost."
    opt, clock, spun = user_opt(model, lr), time.perf_counter, 0.
    model.train(); start = clock()
    for xb, yb in batches:
        loss = F.cross_entropy(model(xb), yb); loss.backward(); opt.step(); opt.zero_grad()
        t = clock(); sum(range(n)); spun += clock() - t
    return clock() - start, spun

def lockstep_times(make_model, shape, reps, n_batches) -> dict:
    "Per epoch: each variant's time over the raw loop's, both running batch by batch in turn, and the page faults of each side."
    torch.set_num_threads(1); pin_cpu()
    batches, fresh = data_and_models(make_model, shape, n_batches)
    variants = {'raw, again': lambda dl: (raw_user_epoch(fresh(), dl, 1e-3), 0.),
                'raw + Python spin': lambda dl: spin_epoch(fresh(), dl, 1e-3),
                'raw + OneCycleLR': lambda dl: (raw_user_epoch(fresh(), dl, 1e-3, one_cycle=True), 0.),
                'fit': lambda dl: (litfit_user_epoch(fresh(), dl, 1e-3, False), 0.),
                'fit_one_cycle': lambda dl: (litfit_user_epoch(fresh(), dl, 1e-3, True), 0.)}
    res = {k: {'ratio': [], 'spin': [], 'faults': [], 'raw faults': [], 'raw ms': []} for k in variants}
    for r in range(reps + 1):   # the first round is a warm-up
        for k, f in variants.items():
            dl = Lockstep(batches, fresh())
            faults = minor_faults()
            total, spun = f(dl)   # the variant's epoch with the raw steps inside it: the variant's own time is the rest
            if r:
                for name, v in zip(res[k], ((total - dl.raw) / dl.raw, spun / dl.raw, minor_faults() - faults - dl.faults,
                                            dl.faults, dl.raw / n_batches * 1000)): res[k][name].append(v)
            gc.collect()
    return res

def bench_lockstep(name, make_model, shape, reps, n_batches, procs) -> dict:
    "The overhead ratios measured in lockstep, in `procs` fresh processes, with the page faults of each side."
    runs = in_fresh_processes(lockstep_times, procs, make_model, shape, -(-reps // procs), n_batches)
    pooled = lambda k, m: sum((r[k][m] for r in runs), [])
    print(f"\n{name}, opt_func=partial(torch.optim.AdamW, ...), in lockstep with the raw loop: {len(pooled('fit', 'ratio'))} epochs "
          f"of each in {procs} processes; ratio to the raw loop [95% interval, resampling processes], minor page faults per "
          f"epoch (the variant's / the raw steps')")
    for k in runs[0]:
        lo, hi = boot_ci([r[k]['ratio'] for r in runs])
        print(f"  {k:<18} {statistics.median(pooled(k, 'ratio')):.3f} [{lo:.3f}-{hi:.3f}]   faults {statistics.median(pooled(k, 'faults')):6.0f} /"
              f" {statistics.median(pooled(k, 'raw faults')):6.0f}   per process " + ' '.join(f"{statistics.median(r[k]['ratio']):.3f}" for r in runs))
    print(f"  raw step in lockstep: {statistics.median(pooled('fit', 'raw ms')):.3f} ms; the Python spin adds "
          f"{statistics.median(pooled('raw + Python spin', 'spin')):.3f} of it, timed on its own: lockstep must show that much over "
          f"'raw, again' for 'raw + Python spin'")
    med = {k: statistics.median(pooled(k, 'ratio')) for k in runs[0]}
    print(f"  over the control (the hand-written loop in the variant's seat, {med['raw, again']:.3f}): "
          + ', '.join(f"{k} {med[k] / med['raw, again']:.3f}" for k in ('raw + OneCycleLR', 'fit', 'fit_one_cycle')))
    return med

def in_fresh_processes(f, procs:int, *args) -> list:
    "`f(*args)` in `procs` new Python processes, one after the other, each with its own memory layout and hash seed."
    ctx = multiprocessing.get_context('spawn')
    res = []
    for _ in range(procs):
        with ctx.Pool(1) as pool: res.append(pool.apply(f, args))
    return res

def boot_ci(groups:list, n:int=2000) -> tuple:
    "A 95% bootstrap interval for the pooled median of `groups` (one list per process): resample processes, then values."
    rng = np.random.default_rng(0)
    meds = [np.median(np.concatenate([rng.choice(groups[i], len(groups[i])) for i in rng.integers(0, len(groups), len(groups))]))
            for _ in range(n)]
    return tuple(np.percentile(meds, [2.5, 97.5]))

def process_ci(runs:list, k:str, base:str) -> tuple:
    "A 95% bootstrap interval for the pooled paired ratio, resampling whole processes, then repetitions within them."
    return boot_ci([np.array([a / b for a, b in zip(r[k], r[base])]) for r in runs])

def bench_user(name, make_model, shape, reps, n_batches, procs):
    "fit and fit_one_cycle with a user's `opt_func` against the hand-written loop with that optimizer, in `procs` processes."
    runs = in_fresh_processes(user_times, procs, make_model, shape, -(-reps // procs), n_batches)
    times = {k: sum((r[k] for r in runs), []) for k in runs[0]}
    print(f"\n{name}, opt_func=partial(torch.optim.AdamW, ...): median ms/batch over {len(times['raw'])} interleaved epochs "
          f"in {procs} processes, no bars; [95% interval, resampling processes]")
    for k, v in times.items():
        lo, hi = process_ci(runs, k, 'raw'); lo2, hi2 = process_ci(runs, k, 'raw + OneCycleLR')
        print(f"  {k:<18} {statistics.median(v):8.3f} ms/batch   ratio to raw {paired(times, k, 'raw'):.3f} [{lo:.3f}-{hi:.3f}]"
              f"   to raw + OneCycleLR {paired(times, k, 'raw + OneCycleLR'):.3f} [{lo2:.3f}-{hi2:.3f}]")
    print("  raw ms/batch in each process:         " + ' '.join(f"{statistics.median(r['raw']):5.3f}" for r in runs))
    for k in ('raw, again', 'fit', 'fit_one_cycle'):
        print(f"  {k + ' / raw in each process:':<36} " + ' '.join(f"{paired(r, k, 'raw'):5.3f}" for r in runs))
    return {k: paired(times, k, 'raw') for k in times}

IR_VARIANTS = ('raw', 'raw + OneCycleLR', 'fit', 'fit_one_cycle')

def ir_worker(n_batches:int):
    "Run each variant once; its timed section lies between two `time.perf_counter()` calls, which here sleep first."
    torch.set_num_threads(1)
    batches, fresh = data_and_models(mlp, (1, 28, 28), n_batches)
    run = {'raw': lambda b: raw_user_epoch(fresh(), b, 1e-3), 'raw + OneCycleLR': lambda b: raw_user_epoch(fresh(), b, 1e-3, True),
           'fit': lambda b: litfit_user_epoch(fresh(), b, 1e-3, False), 'fit_one_cycle': lambda b: litfit_user_epoch(fresh(), b, 1e-3, True)}
    for f in run.values(): f(batches[:5])   # first calls: lazy imports, caches
    clock = time.perf_counter
    def marked(): time.sleep(0.001); return clock()   # callgrind writes its counts so far before each sleep
    time.perf_counter = marked
    for k in IR_VARIANTS: gc.collect(); run[k](batches)   # no collection of an earlier Learner inside a count

def instructions(n_batches:int):
    "Instructions per batch of each variant's timed section (the user's AdamW), counted by valgrind's callgrind."
    if shutil.which('valgrind') is None: return print("\nvalgrind is not installed: no instruction counts.")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'cg.out')
        r = subprocess.run(['valgrind', '--tool=callgrind', '--dump-before=clock_nanosleep*', f'--callgrind-out-file={out}',
                            sys.executable, os.path.abspath(__file__), '--ir-worker', '--batches', str(n_batches)],
                           capture_output=True, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONHASHSEED': '0'})
        if r.returncode: sys.exit(f"the counting run failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
        dumps = sorted(glob.glob(out + '.*'), key=lambda p: int(p.rsplit('.', 1)[1]))
        totals = [int(next(l for l in open(p) if l.startswith('totals:')).split()[1]) for p in dumps]
    last = totals[-(2 * len(IR_VARIANTS) - 1):]   # timed, untimed, timed, ..., timed: one dump at each marker
    timed = dict(zip(IR_VARIANTS, last[::2]))   # between them: the untimed set-up of the next variant
    assert max(timed.values()) < 1.5 * min(timed.values()), f"the dumps do not line up with the markers: {totals}"  # near-equal work
    print(f"\nInstructions executed (valgrind callgrind), MLP, user's AdamW, one epoch of {n_batches} batches each:")
    for k, v in timed.items():
        print(f"  {k:<18} {v / n_batches / 1e6:8.3f} M/batch   ratio to raw {v / timed['raw']:.4f}"
              f"   extra per batch {(v - timed['raw']) / n_batches / 1e3:7.1f} k")

def bench(name, make_model, shape, reps, n_batches):
    batches, fresh = data_and_models(make_model, shape, n_batches)
    variants = {'raw': lambda: raw_epoch(fresh(), batches, 1e-3),
                'litfit (no bar)': lambda: litfit_epoch(fresh(), batches, 1e-3, bar=False),
                'litfit (bar)': lambda: litfit_epoch(fresh(), batches, 1e-3, bar=True),
                'raw, 1 group, torch default AdamW': lambda: raw_epoch(fresh(), batches, 1e-3, nanogpt=False)}
    times = interleaved(variants, reps, n_batches)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{name}: median ms/batch over {reps} interleaved epochs of {n_batches} batches of 64")
    for k, v in med.items():
        print(f"  {k:<34} {v:8.3f} ms/batch   ratio to raw {fmt_ratio(times, k, 'raw')}")
    return {k: paired(times, k, 'raw') for k in times}

def gpu_loop(model, batches, amp=False, n=None):
    "The hand-written GPU loop: fused AdamW, optionally autocast float16 with a GradScaler; seconds for `batches`."
    opt = USER_OPT(param_groups([list(model.parameters())], no_wd=norm_bias_params(model)), lr=1e-3, fused=True)
    scaler = torch.amp.GradScaler('cuda', enabled=amp)
    model.train(); torch.cuda.synchronize(); start = time.perf_counter()
    for xb, yb in batches:
        with torch.autocast('cuda', dtype=torch.float16, enabled=amp): loss = F.cross_entropy(model(xb), yb)
        scaler.scale(loss).backward(); scaler.step(opt); scaler.update(); opt.zero_grad()
    torch.cuda.synchronize()
    return time.perf_counter() - start

def gpu_learner(model, batches, amp=False, compiled=False):
    learn = Learner(DataLoaders(batches, device='cuda'), model, loss_func=CrossEntropyLossFlat(), lr=1e-3,
                    opt_func=partial(USER_OPT, fused=True))
    learn.logger = lambda *a: None
    if amp: learn.to_fp16()
    if compiled: learn.compile()
    return learn

def gpu_fit(learn):
    torch.cuda.synchronize(); start = time.perf_counter()
    with learn.no_bar(): learn.fit(1)
    torch.cuda.synchronize()
    return time.perf_counter() - start

def sync_count(learn) -> tuple:
    "Host-device synchronisations per training batch of a fit (no bars), from torch's sync debug mode: (mean, max) over batches 2 on."
    import warnings
    from litfit.callback import Callback
    marks = []
    class Count(Callback):   # whole batches: from one batch's start to the next's (every callback's after_batch, the loader)
        order, run_valid = -1000, False
        def before_batch(self): marks.append(len(w))
        def after_train(self): marks.append(len(w))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            with learn.no_bar(): learn.fit(1, cbs=Count())
        finally: torch.cuda.set_sync_debug_mode(0)
    per_batch = [b - a for a, b in zip(marks, marks[1:])][1:]   # the first batch does one-off set-up (the loss scale, say)
    return sum(per_batch) / max(len(per_batch), 1), max(per_batch, default=0)

def bench_gpu(reps, n_batches):
    from torchvision.models import resnet18
    torch.manual_seed(0)
    batches = [(torch.randn(64, 3, 64, 64, device='cuda'), torch.randint(0, 10, (64,), device='cuda')) for _ in range(n_batches)]
    init = resnet18(num_classes=10).state_dict()
    def fresh():
        m = resnet18(num_classes=10); m.load_state_dict(copy.deepcopy(init)); return m.cuda()
    cmodel = torch.compile(fresh())
    variants = {'raw float32': lambda: gpu_loop(fresh(), batches), 'litfit float32': lambda: gpu_fit(gpu_learner(fresh(), batches)),
                'raw fp16': lambda: gpu_loop(fresh(), batches, amp=True), 'litfit to_fp16()': lambda: gpu_fit(gpu_learner(fresh(), batches, amp=True)),
                'raw torch.compile': lambda: gpu_loop(cmodel, batches), 'litfit compile()': lambda: gpu_fit(gpu_learner(fresh(), batches, compiled=True))}
    for f in variants.values(): f()   # warm-up, compilation included
    times = {k: [] for k in variants}
    for r in range(reps):
        for k in (list(variants) if r % 2 == 0 else list(reversed(variants))): times[k].append(variants[k]())
    ips = {k: n_batches * 64 / statistics.median(v) for k, v in times.items()}
    print(f"\n{torch.cuda.get_device_name()}: resnet18 on 64x64 images, batches of 64, images per second (median of {reps})")
    for k, v in ips.items(): print(f"  {k:<20} {v:10.0f} img/s")
    for a, b in (('litfit float32', 'raw float32'), ('litfit to_fp16()', 'raw fp16'), ('litfit compile()', 'raw torch.compile')):
        print(f"  {a} / {b}: {ips[a] / ips[b]:.3f} (target >= 0.97)")
    for name, kw in (('default (float32)', {}), ('to_fp16()', {'amp': True})):
        mean, most = sync_count(gpu_learner(fresh(), batches, **kw))
        print(f"  host-device syncs per training batch, litfit {name}, no bar: {mean:.2f} on average, at most {most} (target 0)")

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--reps', type=int, default=31); p.add_argument('--batches', type=int, default=100)
    p.add_argument('--user-reps', type=int, default=91, help="repetitions of the comparison with the user's optimizer")
    p.add_argument('--procs', type=int, default=7, help="processes that comparison is spread over")
    p.add_argument('--lockstep-reps', type=int, default=49, help="epochs of each variant in the lockstep comparison")
    p.add_argument('--gpu', action=argparse.BooleanOptionalAction, default=torch.cuda.is_available())
    p.add_argument('--attribute', action='store_true', help="also split fit's extra time into the fit, the callbacks and the batch loop")
    p.add_argument('--instructions', action='store_true', help="only count the instructions of the user's-optimizer variants (valgrind)")
    p.add_argument('--lockstep-only', action='store_true', help="only the lockstep comparison, which the targets are judged on")
    p.add_argument('--gpu-only', action='store_true', help="only the GPU section (resnet18 images per second, syncs per batch)")
    p.add_argument('--ir-worker', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.ir_worker: sys.exit(ir_worker(args.batches))
    if args.instructions: sys.exit(instructions(args.batches))
    if args.gpu_only:
        if not torch.cuda.is_available(): sys.exit("--gpu-only: no CUDA device here")
        print(f"torch {torch.__version__}"); sys.exit(bench_gpu(max(3, args.reps // 3), args.batches))
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, CPU, 1 thread, {pin_cpu()}")
    if args.lockstep_only:
        lock = bench_lockstep('MLP 784-256-10', mlp, (1, 28, 28), args.lockstep_reps, args.batches, args.procs)
        sys.exit(print(f"\nTargets (lockstep): fit {lock['fit']:.3f} ({'met' if lock['fit'] <= 1.05 else 'MISSED'}, at most 1.05), "
                       f"fit_one_cycle {lock['fit_one_cycle']:.3f} ({'met' if lock['fit_one_cycle'] <= 1.08 else 'MISSED'}, at most 1.08)"))
    res = {'MLP 784-256-10': bench('MLP 784-256-10', mlp, (1, 28, 28), args.reps, args.batches),
           'CNN 2 conv': bench('CNN 2 conv', cnn, (1, 28, 28), args.reps, args.batches)}
    user = bench_user('MLP 784-256-10', mlp, (1, 28, 28), args.user_reps, args.batches, args.procs)
    lock = bench_lockstep('MLP 784-256-10', mlp, (1, 28, 28), args.lockstep_reps, args.batches, args.procs)
    print("\nTargets: litfit/raw <= 1.05 without bars, <= 1.10 with bars; with the user's optimizer, fit <= 1.05 and")
    print("fit_one_cycle <= 1.08 against the same hand-written loop (no schedule), judged on the lockstep measurement.")
    for name, m in res.items():
        nb, b = m['litfit (no bar)'], m['litfit (bar)']
        print(f"  {name}: no bar {nb:.3f} ({'met' if nb <= 1.05 else 'MISSED'}), bar {b:.3f} ({'met' if b <= 1.10 else 'MISSED'})")
    f, oc = user['fit'], user['fit_one_cycle']
    print(f"  MLP, user's AdamW, epochs in turn: fit {f:.3f} ({'met' if f <= 1.05 else 'MISSED'}), "
          f"fit_one_cycle {oc:.3f} ({'met' if oc <= 1.08 else 'MISSED'})")
    f, oc = lock['fit'], lock['fit_one_cycle']
    print(f"  MLP, user's AdamW, in lockstep: fit {f:.3f} ({'met' if f <= 1.05 else 'MISSED'}), "
          f"fit_one_cycle {oc:.3f} ({'met' if oc <= 1.08 else 'MISSED'})")
    if args.attribute: attribute(mlp, (1, 28, 28), args.user_reps, args.batches, args.procs)
    if args.gpu: bench_gpu(max(3, args.reps // 3), args.batches)
    else: print("\nNo GPU: the resnet18 / mixed precision / compile / sync-count section did not run.")
