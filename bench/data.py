"""Images per second through `ImageDataLoaders.from_df` against a hand-written torchvision + DataLoader pipeline.

Both pipelines do the same work per epoch: decode each file with `torchvision.io.decode_image` (RGB), resize it on
the CPU (item level), collate, then on the device convert to float, apply per-image random flip + rotation + zoom +
perspective warp in one `grid_sample`, brightness and contrast in logit space, and normalize with ImageNet stats.
Repetitions are interleaved (litfit, baseline, litfit, ...) and the median epoch time is reported.

    python bench/data.py [--reps 7] [--workers 0] [--data digits|photos|both] [--system-malloc]

glibc hands large freed buffers back to the OS and page-faults them in again on the next batch; which pipeline pays
for that depends on the order of its allocations, not on its work (it swung the ratio from 0.95x to 1.4x on the same
computation). So the script re-runs itself with the allocator keeping its memory, and the comparison measures the
work; `--system-malloc` measures with the default allocator settings instead.
"""
import argparse, math, os, statistics, sys, tempfile, time
from pathlib import Path

_MALLOC = {'MALLOC_MMAP_THRESHOLD_': '2000000000', 'MALLOC_TRIM_THRESHOLD_': '2000000000', 'MALLOC_TOP_PAD_': '500000000'}
if __name__ == '__main__' and '--system-malloc' not in sys.argv and any(os.environ.get(k) != v for k, v in _MALLOC.items()):
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **_MALLOC})
import torch
torch.set_num_threads(1)
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch.utils.data import DataLoader, Dataset
from torchvision.io import decode_image, ImageReadMode, write_jpeg

from litfit.datasets import get_digits
from litfit.vision_data import ImageDataLoaders
from litfit.vision_transforms import Resize, aug_transforms, Normalize, imagenet_stats

MEAN, STD = torch.tensor(imagenet_stats[0]).view(1, 3, 1, 1), torch.tensor(imagenet_stats[1]).view(1, 3, 1, 1)

# ---- the hand-written pipeline -------------------------------------------------------------------------------
class FilesDS(Dataset):
    def __init__(self, files, labels, size): self.files, self.labels, self.size = files, labels, size
    def __len__(self): return len(self.files)
    def __getitem__(self, i):
        img = decode_image(self.files[i], mode=ImageReadMode.RGB)
        h, w = img.shape[-2:]
        s = min(h, w)                         # centre square crop, then resize (litfit's Resize 'crop' moves it at random)
        top, left = int(torch.randint(0, h - s + 1, ())), int(torch.randint(0, w - s + 1, ()))
        img = img[:, top:top + s, left:left + s]
        return TF.resize(img, [self.size, self.size], antialias=True), self.labels[i]

def gpu_aug(x, p_aff=0.75, p_light=0.75, max_rot=10., max_zoom=1.1, max_warp=0.2, max_light=0.2):
    bs, dev = x.shape[0], x.device
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(bs, device=dev)
    keep = lambda p: (torch.rand(bs, device=dev) < p).float()
    m = torch.eye(3, device=dev).repeat(bs, 1, 1)
    flip = 1 - 2 * keep(0.5)
    ang = u(-max_rot, max_rot).deg2rad() * keep(p_aff)
    zk = keep(p_aff); s = 1 / (1 + (u(1, max_zoom) - 1) * zk)
    rot = torch.eye(3, device=dev).repeat(bs, 1, 1)
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = ang.cos(), -ang.sin(), ang.sin(), ang.cos()
    zm = torch.eye(3, device=dev).repeat(bs, 1, 1)
    zm[:, 0, 0], zm[:, 1, 1] = s, s
    zm[:, 0, 2], zm[:, 1, 2] = (1 - s) * (2 * u(0, 1) - 1), (1 - s) * (2 * u(0, 1) - 1)
    m[:, 0, 0] = flip
    m = m @ rot @ zm
    grid = F.affine_grid(m[:, :2], x.shape, align_corners=True)
    # perspective warp: homography sending the corners to a tilted quad
    wk = keep(p_aff); mx, my = u(-max_warp, max_warp) * wk, u(-max_warp, max_warp) * wk
    src = torch.tensor([[-1., -1.], [1., -1.], [-1., 1.], [1., 1.]], device=dev).expand(bs, 4, 2)
    dst = torch.stack([src[..., 0] * (1 - mx[:, None] * src[..., 1]), src[..., 1] * (1 - my[:, None] * src[..., 0])], -1)
    X, Y, U, V = src[..., 0], src[..., 1], dst[..., 0], dst[..., 1]
    z, o = torch.zeros_like(X), torch.ones_like(X)
    A = torch.cat([torch.stack([X, Y, o, z, z, z, -U * X, -U * Y], -1), torch.stack([z, z, z, X, Y, o, -V * X, -V * Y], -1)], 1)
    H = torch.cat([torch.linalg.solve(A, torch.cat([U, V], 1)), o[:, :1]], 1).reshape(bs, 3, 3)
    pts = torch.cat([grid, torch.ones_like(grid[..., :1])], -1) @ H.transpose(1, 2)[:, None]
    x = F.grid_sample(x, pts[..., :2] / pts[..., 2:], padding_mode='reflection', align_corners=True)
    b = torch.where(keep(p_light).bool(), u(0.5 * (1 - max_light), 0.5 * (1 + max_light)), 0.5)
    lo = math.log(1 - max_light)
    c = torch.where(keep(p_light).bool(), u(lo, -lo).exp(), 1.)
    x = torch.sigmoid((torch.logit(x, eps=1e-7) + torch.logit(b)[:, None, None, None]) * c[:, None, None, None])
    return (x - MEAN.to(dev)) / STD.to(dev)

def baseline_epoch(dl, device):
    n = 0
    for x, y in dl:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        x = gpu_aug(x.float().div_(255))
        n += len(x)
    return n

# ---- litfit ---------------------------------------------------------------------------------------------------
def litfit_epoch(dl):
    n = 0
    for x, y in dl: n += len(x)
    return n

def photos_df(dest:Path, n:int=256):
    "`n` JPEG crops (240x320) of scikit-learn's two sample photos, with their source as the label."
    import pandas as pd
    from sklearn.datasets import load_sample_images
    g = torch.Generator().manual_seed(0)
    photos = [decode_image(f) for f in load_sample_images().filenames]
    (dest / 'photos').mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        k = i % 2; img = photos[k]
        top, left = int(torch.randint(0, 427 - 240, (), generator=g)), int(torch.randint(0, 640 - 320, (), generator=g))
        fn = f'photos/{i:04d}.jpg'
        write_jpeg(img[:, top:top + 240, left:left + 320].contiguous(), str(dest / fn), quality=90)
        rows.append((fn, ['china', 'flower'][k]))
    return pd.DataFrame(rows, columns=['fname', 'label'])

def check_same_work(dl, device):
    "With the same seed, litfit's batch transforms and `gpu_aug` give the same batch: the two do the same work."
    x = dl.dataset[0][0][None].repeat(16, 1, 1, 1).to(device)
    torch.manual_seed(0); a = dl.after_batch_fn((x,), 0)[0]
    torch.manual_seed(0); b = gpu_aug(x.float().div(255))
    assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()

def run(name, df, path, size, reps, workers, device):
    dls = ImageDataLoaders.from_df(df, path, valid_pct=0.2, seed=0, item_tfms=Resize(size),
                                   batch_tfms=[*aug_transforms(), Normalize.from_stats(*imagenet_stats)],
                                   bs=64, num_workers=workers, device=device)
    ds = dls.train.dataset
    base = DataLoader(FilesDS(ds.files, ds.targets, size), batch_size=64, shuffle=True, drop_last=True,
                      num_workers=workers, pin_memory=device.type == 'cuda', persistent_workers=workers > 0)
    check_same_work(dls.train, device)
    litfit_epoch(dls.train); baseline_epoch(base, device)           # warm-up (worker start, caches)
    times = {'litfit': [], 'baseline': []}
    fns = {'litfit': lambda: litfit_epoch(dls.train), 'baseline': lambda: baseline_epoch(base, device)}
    for r in range(reps):
        for k in (['litfit', 'baseline'] if r % 2 == 0 else ['baseline', 'litfit']):   # alternate who goes first
            t = time.perf_counter(); n = fns[k](); times[k].append(time.perf_counter() - t)
            if k == 'litfit': n1 = n
            else: n2 = n
    assert n1 == n2, (n1, n2)
    med = {k: statistics.median(v) for k, v in times.items()}
    ips = {k: n1 / v for k, v in med.items()}
    print(f"{name:7s} {len(ds):5d} train images -> {size}x{size}, workers={workers}, device={device.type}: "
          f"litfit {ips['litfit']:8.0f} img/s, hand-written {ips['baseline']:8.0f} img/s, "
          f"ratio {ips['litfit'] / ips['baseline']:.2f}x (median of {reps})", flush=True)
    return ips['litfit'] / ips['baseline']

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--reps', type=int, default=7)
    p.add_argument('--workers', type=int, default=0)
    p.add_argument('--data', default='both', choices=['digits', 'photos', 'both'])
    p.add_argument('--device', default=None)
    p.add_argument('--system-malloc', action='store_true', help="glibc's default allocator settings")
    args = p.parse_args(argv)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"malloc {'default' if args.system_malloc else 'keeping freed memory'}", flush=True)
    ratios = []
    with tempfile.TemporaryDirectory() as d:
        if args.data in ('digits', 'both'):
            path = get_digits(d)
            import pandas as pd
            ratios.append(run('digits', pd.read_csv(path / 'labels.csv')[['fname', 'label']], path, 32, args.reps, args.workers, device))
        if args.data in ('photos', 'both'):
            ratios.append(run('photos', photos_df(Path(d)), Path(d), 128, args.reps, args.workers, device))
    print(f"min ratio {min(ratios):.2f}x (target >= 0.90x)")
    return 0

if __name__ == '__main__': sys.exit(main())
