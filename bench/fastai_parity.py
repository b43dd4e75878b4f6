"""litfit's numbers against fastai's: the same model, the same weights, the same batches, in one process.

fastai is not a dependency of litfit; install it next to litfit to run this (`pip install fastai`, in a virtual
environment of its own: fastai 2.8 needs fastcore 2, which litfit's nbdev 2 development set-up does not take).

1. The loop and the schedules: `fit`, `fit_one_cycle`, `fit_flat_cos` and `fit_sgdr` on the digits CNN, from the same
   initial weights, over the same unshuffled batches, with fastai's default optimizer (Adam) in both. Compared: the
   learning rate and the loss of every training batch, the validation loss and accuracy of every epoch, and the
   final weights.
2. `lr_find`: the four suggestions (`minimum`, `steep`, `valley`, `slide`).
3. Ten metrics from `validate()` on the same trained weights.
4. `MixUp` and `CutMix` for one epoch: the loss of each mixed batch, computed by litfit from the weights fastai had
   at that batch. torch's `DataLoader`, inside fastai's, draws a seed from torch's global generator at each pass, and
   litfit's loader does not, so a callback seeds the generator before each batch in both.
5. `vision_learner` (resnet18, xresnet18, xresnet50, not pretrained) and the eleven XResNet builders: the state-dict
   keys, the outputs of the same weights, and the parameter groups.
6. More of the loop: three parameter groups with a `slice` of learning rates, `fit_one_cycle`'s options, `fine_tune`
   with its options, `SGD` with momentum, weight decay on norm layers and biases, a torch optimizer in `OptimWrapper`,
   `GradientAccumulation` and `GradientClip`: the loss of every batch and the final weights.
7. Where litfit differs on purpose, the size of the difference is printed, not counted.
8. Files fastai wrote: `learn.load` of a `learn.save` file (its optimizer state, in fastai's format, is skipped with
   a warning), and `load_learner` refusing a pickle, the format of fastai's `export`.

9. Image files to batches: `ImageDataLoaders.from_df` with `valid_pct` and `seed` on 48 generated photos of random
   sizes, with `Resize(32, method)` for each method and `aug_transforms(size=24)`: the validation items, the vocab, the
   targets, and the pixels of every validation batch. Pixels may differ by one level of 255, because fastai resizes
   items with Pillow and litfit with torchvision.

Prints one line per check: the largest absolute difference, and `same` when it is within float32 rounding (1e-5), or
one level of 255 for pixels.
The train_loss column is left out on purpose: fastai reports the smoothed loss at the end of the epoch, and litfit the
epoch's mean (litfit keeps the smoothed loss in `recorder.losses`).

    python bench/fastai_parity.py
"""
import copy, warnings
import numpy as np
import torch
warnings.filterwarnings('ignore')
try: import fastai.vision.all as fa
except ImportError as e: raise SystemExit(f"This script compares litfit with fastai, which is not installed here ({e}): `pip install fastai`")
import litfit.all as lf
from litfit.datasets import digits_arrays

torch.set_num_threads(1)
images, labels = digits_arrays()
X = images.float().div(255).unsqueeze(1)
DATA = X[:1400], labels[:1400], X[1400:], labels[1400:]
torch.manual_seed(0)
MODEL = lf.digits_cnn()
rows = []

def report(check:str, diff:float, tol:float=1e-5):
    "Print the largest difference of a check; within `tol` counts as the same."
    rows.append((check, diff, tol))
    print(f"{check:62s} {diff:10.2e}  {'same' if diff <= tol else 'DIFFERENT'}", flush=True)

def learners(cbs_fa=(), cbs_lf=(), metrics_fa=(), metrics_lf=(), model=MODEL) -> tuple:
    "A fastai and a litfit Learner of copies of `model` on the same unshuffled batches (64 for training, 128 for validation)."
    xt, yt, xv, yv = DATA
    fdls = fa.DataLoaders(fa.TfmdDL(list(zip(xt, yt)), bs=64, shuffle=False, drop_last=True),
                          fa.TfmdDL(list(zip(xv, yv)), bs=128, shuffle=False), device='cpu')
    ldls = lf.DataLoaders(lf.TensorDataLoader(xt, yt, bs=64, drop_last=True), lf.TensorDataLoader(xv, yv, bs=128), device='cpu')
    a = fa.Learner(fdls, copy.deepcopy(model), loss_func=fa.CrossEntropyLossFlat(), metrics=list(metrics_fa), cbs=list(cbs_fa))
    b = lf.Learner(ldls, copy.deepcopy(model), loss_func=lf.CrossEntropyLossFlat(), metrics=list(metrics_lf), cbs=list(cbs_lf))
    return a, b

def batch_losses(lib, store:list):
    "A callback of `lib` that keeps the loss of every training batch."
    class BatchLosses(lib.Callback):
        order = 100
        def after_loss(self):
            if self.training: store.append(self.learn.loss.item())
    return BatchLosses()

def reseed(lib):
    "A callback of `lib` that seeds torch's generator before each batch, with the batch's number."
    class Reseed(lib.Callback):
        order = -5
        def before_batch(self): torch.manual_seed(1000 + self.learn.iter)
    return Reseed()

def weights_diff(m1, m2) -> float:
    s1, s2 = m1.state_dict(), m2.state_dict()
    return max((s1[k].float() - s2[k].float()).abs().max().item() for k in s1)

# 1. the loop and the schedules
for method, args in [('fit', (2, 1e-3)), ('fit_one_cycle', (3, 1e-2)), ('fit_flat_cos', (2, 1e-2)), ('fit_sgdr', (2, 1, 1e-2))]:
    la, lb = [], []
    a, b = learners([batch_losses(fa, la)], [batch_losses(lf, lb)], [fa.accuracy], [lf.accuracy])
    for learn in (a, b):
        with learn.no_bar(), learn.no_logging(): getattr(learn, method)(*args)
    report(f"{method}: learning rate of each of {len(la)} batches", np.abs(np.array(a.recorder.lrs) - np.array(b.recorder.lrs)).max())
    report(f"{method}: loss of each batch", np.abs(np.array(la) - np.array(lb)).max())
    report(f"{method}: valid_loss and accuracy of each epoch", np.abs(np.array(a.recorder.values)[:, 1:] - np.array(b.recorder.values)[:, 1:]).max())
    report(f"{method}: final weights", weights_diff(a.model, b.model))

# 2. lr_find
a, b = learners()
with a.no_bar(), a.no_logging(): sa = a.lr_find(suggest_funcs=(fa.minimum, fa.steep, fa.valley, fa.slide), show_plot=False)
with b.no_bar(), b.no_logging(): sb = b.lr_find(suggest_funcs=(lf.minimum, lf.steep, lf.valley, lf.slide), show_plot=False)
report("lr_find: minimum, steep, valley and slide", max(abs(float(x) - float(y)) for x, y in zip(sa, sb)))

# 3. metrics on the same trained weights
trained = copy.deepcopy(MODEL)
_, t = learners(model=trained)
with t.no_bar(), t.no_logging(): t.fit_one_cycle(2, 1e-2)
names = ['accuracy', 'error_rate', 'top_k_accuracy']
mets = lambda lib: [lib.accuracy, lib.error_rate, lib.top_k_accuracy, lib.F1Score(average='macro'), lib.Precision(average='macro'),
                    lib.Recall(average='weighted'), lib.MatthewsCorrCoef(), lib.CohenKappa(), lib.BalancedAccuracy(), lib.RocAuc()]
a, b = learners(metrics_fa=mets(fa), metrics_lf=mets(lf), model=t.model)
with a.no_bar(): va = a.validate()
vb = b.validate()
report("validate: loss and 10 metrics (accuracy ... RocAuc)", max(abs(float(x) - float(y)) for x, y in zip(va, vb)))

# 4. MixUp and CutMix
def weights_of(lib, states:list, take:bool):
    "A callback of `lib` that records the weights before each batch (`take`), or loads the recorded ones."
    class Weights(lib.Callback):
        order = -4
        def before_batch(self):
            if take: states.append(copy.deepcopy(self.learn.model.state_dict()))
            else: self.learn.model.load_state_dict(states[self.learn.iter])
    return Weights()
for fcb, lcb in [(fa.MixUp(), lf.MixUp()), (fa.CutMix(), lf.CutMix())]:
    la, lb, lc, states = [], [], [], []
    a, b = learners([reseed(fa), weights_of(fa, states, True), fcb, batch_losses(fa, la)], [reseed(lf), lcb, batch_losses(lf, lb)])
    _, c = learners(cbs_lf=[reseed(lf), weights_of(lf, states, False), type(lcb)(), batch_losses(lf, lc)])
    for learn in (a, b, c):
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    report(f"{type(fcb).__name__}: loss of each of {len(la)} batches, from fastai's weights", np.abs(np.array(la) - np.array(lc)).max())
    print(f"{'':4s}(trained on their own, the losses differ at most by {np.abs(np.array(la) - np.array(lb)).max():.1e}: the optimizers "
          "round differently by about 1e-8, and a ReLU input within 1e-6 of zero can flip)")

# 6. more of the loop: parameter groups, freezing, other optimizers, gradient callbacks
def split3(m): return [list(m[:3].parameters()), list(m[3:9].parameters()), list(m[9:].parameters())]
from functools import partial
for name, method, args, kw, learner_kw in [
        ("fit_one_cycle, 3 groups, lr slice(1e-4, 1e-2)", 'fit_one_cycle', (2, slice(1e-4, 1e-2)), {}, dict(splitter=split3)),
        ("fit_one_cycle(div, div_final, pct_start, moms, wd)", 'fit_one_cycle', (2, 1e-2), dict(div=10, div_final=1e3, pct_start=0.5, moms=(0.9, 0.8, 0.9), wd=0.1), {}),
        ("fine_tune(1, freeze_epochs=2, lr_mult=10), 3 groups", 'fine_tune', (1, 1e-2), dict(freeze_epochs=2, lr_mult=10, pct_start=0.2, div=3.0), dict(splitter=split3)),
        ("fit with SGD(mom=0.9)", 'fit_one_cycle', (2, 1e-2), {}, dict(opt_func=('SGD', dict(mom=0.9)))),
        ("fit with wd=0.1, wd_bn_bias, train_bn=False", 'fit_one_cycle', (2, 1e-2), {}, dict(wd=0.1, wd_bn_bias=True, train_bn=False)),
        ("fit with OptimWrapper(AdamW), wd_bn_bias=True", 'fit', (2, 1e-3), {}, dict(opt_func=('OptimWrapper', dict(opt=torch.optim.AdamW)), wd_bn_bias=True)),
        ("fit with GradientAccumulation(n_acc=256)", 'fit', (2, 1e-3), {}, dict(cbs=('GradientAccumulation', dict(n_acc=256)))),
        ("fit with GradientClip(0.1)", 'fit', (2, 1e-2), {}, dict(cbs=('GradientClip', dict(max_norm=0.1))))]:
    la, lb = [], []
    a, b = learners([batch_losses(fa, la)], [batch_losses(lf, lb)])
    for lib, learn in ((fa, a), (lf, b)):
        for k, v in learner_kw.items():
            if k == 'opt_func': learn.opt_func = partial(getattr(lib, v[0]), **v[1])
            elif k == 'cbs': learn.add_cb(getattr(lib, v[0])(**v[1]))
            else: setattr(learn, k, v)
        with learn.no_bar(), learn.no_logging(): getattr(learn, method)(*args, **kw)
    report(f"{name}: loss of each batch", np.abs(np.array(la) - np.array(lb)).max() if len(la) == len(lb) else float('inf'))
    report(f"{name}: final weights", weights_diff(a.model, b.model))

# 5. models
x, y = torch.rand(8, 3, 64, 64), torch.arange(8) % 4
fdls = fa.DataLoaders(fa.TfmdDL(list(zip(x, y)), bs=4), fa.TfmdDL(list(zip(x, y)), bs=4), device='cpu')
ldls = lf.DataLoaders(lf.TensorDataLoader(x, y, bs=4), lf.TensorDataLoader(x, y, bs=4), device='cpu')
for arch in ('resnet18', 'xresnet18', 'xresnet50'):
    fl = fa.vision_learner(fdls, getattr(fa, arch), pretrained=False, n_out=4, normalize=False, loss_func=fa.CrossEntropyLossFlat())
    ll = lf.vision_learner(ldls, getattr(lf, arch), pretrained=False, n_out=4, loss_func=lf.CrossEntropyLossFlat())
    same = list(fl.model.state_dict()) == list(ll.model.state_dict())
    groups = [len(g) for g in fl.splitter(fl.model)] == [len(g) for g in ll.splitter(ll.model)]
    ll.model.load_state_dict(fl.model.state_dict()); fl.model.eval(); ll.model.eval()
    with torch.no_grad(): d = (fl.model(x) - ll.model(x)).abs().max().item()
    report(f"vision_learner({arch}): outputs of fastai's weights" + ('' if same and groups else ' (KEYS OR GROUPS DIFFER)'), d if same and groups else float('inf'))
from fastai.vision.models import xresnet as fx
for name in ['xresnet18', 'xresnet34', 'xresnet50', 'xresnet101', 'xresnet152', 'xresnet18_deep', 'xresnet34_deep',
             'xresnet50_deep', 'xresnet18_deeper', 'xresnet34_deeper', 'xresnet50_deeper']:
    fm, lm = getattr(fx, name)(n_out=7), getattr(lf, name)(n_out=7)
    same = list(fm.state_dict()) == list(lm.state_dict())
    lm.load_state_dict(fm.state_dict()); fm.eval(); lm.eval()
    with torch.no_grad(): d = (fm(x) - lm(x)).abs().max().item()
    report(f"{name}: outputs of fastai's weights" + ('' if same else ' (KEYS DIFFER)'), d if same else float('inf'))

# 8. files fastai wrote
import tempfile
from pathlib import Path
tmp = Path(tempfile.mkdtemp())
a, b = learners()
a.path = b.path = tmp
with a.no_bar(), a.no_logging(): a.fit(1, 1e-2)
a.save('from_fastai')   # fastai's file: the weights and fastai's optimizer state
with warnings.catch_warnings(record=True): b.load('from_fastai')
report("learn.load of a file fastai's learn.save wrote: the weights", weights_diff(a.model, b.model))
torch.save(a.model, tmp / 'pickled.pkl')   # what fastai's export holds: a pickle
try: lf.load_learner(tmp / 'pickled.pkl'); refused = False
except lf.UnsafeFileError: refused = True
report("load_learner refuses a pickled file (fastai's export format)", 0. if refused else float('inf'))

# 9. image files to batches: splits, labels, item and batch transforms in validation
import pandas as pd
from PIL import Image
g = torch.Generator().manual_seed(0)
names, labels = [], []
for i in range(48):   # photos of random sizes, most of them not square, in three classes
    h, w = (int(v) for v in torch.randint(30, 90, (2,), generator=g))
    Image.fromarray((torch.rand(h, w, 3, generator=g) * 255).byte().numpy()).save(tmp / f'im{i}.png')
    names.append(f'im{i}.png'); labels.append(['cat', 'dog', 'bird'][i % 3])
df = pd.DataFrame({'fname': names, 'label': labels})
for method in ('crop', 'pad', 'squish'):
    kw = dict(valid_pct=0.25, seed=42, bs=8, num_workers=0, device='cpu')
    fd = fa.ImageDataLoaders.from_df(df, tmp, item_tfms=fa.Resize(32, method), batch_tfms=fa.aug_transforms(size=24), **kw)
    ld = lf.ImageDataLoaders.from_df(df, tmp, item_tfms=lf.Resize(32, method), batch_tfms=lf.aug_transforms(size=24), **kw)
    same_items = [Path(o).name for o in fd.valid_ds.items.fname] == [Path(o).name for o in ld.valid_ds.files] and list(fd.vocab) == list(ld.vocab)
    fb, lb_ = [b for b in fd.valid], [b for b in ld.valid]
    d = max((x1.float() - x2.float()).abs().max().item() * 255 for (x1, _), (x2, _) in zip(fb, lb_))
    same_y = all(torch.equal(y1.long().cpu(), y2.cpu()) for (_, y1), (_, y2) in zip(fb, lb_))
    report(f"from_df, Resize(32, '{method}'), aug_transforms(size=24): valid pixels (0-255)" + ('' if same_items and same_y else ' (ITEMS OR LABELS DIFFER)'),
           d if same_items and same_y else float('inf'), tol=1.5)

# 7. where litfit differs on purpose (not counted): printed for the record
print("\nDifferences on purpose (documented in the chapters):")
a, b = learners()
for learn in (a, b):
    with learn.no_bar(), learn.no_logging(): learn.fit_sgdr(3, 1, 1e-2, cycle_mult=2)
print(f"  fit_sgdr(3, 1): learning rate of the first batch of epoch 3: fastai {a.recorder.lrs[63]:.2e}, litfit {b.recorder.lrs[63]:.2e} "
      "(fastai's float32 phase boundaries start the third cycle a batch late)")
la, lb = [], []
a, b = learners([batch_losses(fa, la)], [batch_losses(lf, lb)])
a.opt_func, b.opt_func = partial(fa.OptimWrapper, opt=torch.optim.AdamW), partial(lf.OptimWrapper, opt=torch.optim.AdamW)
for learn in (a, b):
    with learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-3)
print(f"  OptimWrapper(AdamW) with wd_bn_bias=False: losses differ by up to {np.abs(np.array(la) - np.array(lb)).max():.1e} "
      "(fastai's flag does not reach torch's optimizer, so it decays norm layers and biases)")
print("  train_loss column: fastai's is the smoothed loss, litfit's the epoch's mean")

bad = [c for c, d, tol in rows if not d <= tol]
print(f"\nfastai {fa.__version__ if hasattr(fa, '__version__') else __import__('fastai').__version__}, litfit {lf.__version__ if hasattr(lf, '__version__') else __import__('litfit').__version__}: "
      f"{len(rows) - len(bad)} of {len(rows)} checks the same" + (f"; different: {bad}" if bad else ''))
