"""Data-loading speed, one core: the reference PNG path vs the pre-resized cache, same run, same images.

    python bench/data.py [--n 48] [--repeat 3] [--size 256] [--keep DIR]

Writes `n` synthetic 1024² NIH-format PNGs (cxrvit.synth) into a temporary folder, builds a `size`² cache of them
(cxrvit.cache, one process), then times per-sample loading with torch.set_num_threads(1):

- reference: NIHDataset (PIL decode of the 1024² PNG, .convert('RGB')) + the paper's transform;
- cache:     CachedNIHDataset (memmap row → PIL 'RGB') + the same transform on the 256² image;
- decode only: the same two without any transform (PNG decode+RGB vs memmap read+RGB);
- cache uint8 crop: the cache row → RandomResizedCrop (one Pillow crop+resize call) + flip on the 1-channel uint8
  image, no float conversion (what a loader that normalises on the device would do), vs the reference pre-train path;
- cache batch gather: 256 random rows of the memmap copied at once (a GPU-side augmentation's only host work).

Prints images/s per path and the cache/reference ratios. Not a test: its figures go into reports.
"""
import os
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(v, "1")
import argparse, math, shutil, tempfile, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
import torchvision.transforms as T
from torchvision.transforms import InterpolationMode
from cxrvit.synth import make_synthetic_nih
from cxrvit.cache import build_cache, CachedNIHDataset
from cxrvit.data import NIHDataset
from cxrvit.images import load_image
from cxrvit.transforms import pretrain_transform, finetune_transform, eval_transform


def rate(get, n, repeat):
    "Best images/s over `repeat` passes of get(0..n-1)."
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        for i in range(n): get(i)
        best = max(best, n / (time.perf_counter() - t0))
    return best


def uint8_crop(img_size=224, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3), seed=0):
    "Lean RandomResizedCrop (torchvision's sampling rule, numpy RNG) + h-flip on a 1-channel uint8 PIL image → uint8 [1, H, W]."
    rng = np.random.default_rng(seed); lr = (math.log(ratio[0]), math.log(ratio[1]))
    def box(w, h):
        for _ in range(10):
            a, r = w * h * rng.uniform(*scale), math.exp(rng.uniform(*lr))
            cw, ch = round(math.sqrt(a * r)), round(math.sqrt(a / r))
            if 0 < cw <= w and 0 < ch <= h:
                x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1)); return (x, y, x + cw, y + ch)
        return (0, 0, w, h)
    def f(img):
        out = img.resize((img_size, img_size), Image.BICUBIC, box=box(*img.size))  # crop + resize in one call
        if rng.random() < 0.5: out = out.transpose(Image.FLIP_LEFT_RIGHT)
        return torch.from_numpy(np.array(out))[None]
    return f


def main(n=48, repeat=3, size=256, keep=None):
    torch.set_num_threads(1); torch.manual_seed(0)
    tmp = Path(keep or tempfile.mkdtemp(prefix="cxrvit_bench_"))
    try:
        t0 = time.perf_counter()
        root = make_synthetic_nih(tmp / "nih", n=n, size=1024, seed=0, workers=None, progress=False)
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cache = build_cache("nih", root, tmp / f"cache{size}", size=size, workers=1, progress=False)
        build_ips = n / (time.perf_counter() - t0)
        splits = ("train", "val", "test")
        ref = {s: NIHDataset(root, split=s) for s in splits}
        cch = {s: CachedNIHDataset(cache, split=s) for s in splits}
        items = [(s, i) for s in splits for i in range(len(ref[s]))]  # every image once
        mb = sum(p.stat().st_size for p in (root / "images").iterdir()) / n / 2**20
        print(f"{n} synthetic 1024² PNGs ({mb:.2f} MiB each, generated in {gen_s:.1f} s); "
              f"cache {size}² built at {build_ips:.1f} img/s on one core\n")
        rows = []
        for name, tf in [("pretrain (RRC 0.5-1 + flip + norm)", pretrain_transform(224)),
                         ("finetune (timm RRC + RandAug m6 + norm)", finetune_transform(224)),
                         ("eval (Resize 256 + CenterCrop 224)", eval_transform(224))]:
            for s in splits: ref[s].transform = tf; cch[s].transform = tf
            r = rate(lambda k: ref[items[k][0]][items[k][1]], len(items), repeat)
            c = rate(lambda k: cch[items[k][0]][items[k][1]], len(items), repeat)
            rows.append((f"decode + {name}", r, c))
        r = rate(lambda k: load_image(ref[items[k][0]].paths[items[k][1]]), len(items), repeat)
        c = rate(lambda k: cch[items[k][0]].image(items[k][1]), len(items), repeat)
        rows.append(("decode only (PNG→RGB vs memmap→RGB)", r, c))
        crop = uint8_crop()
        for s in splits: cch[s].channels = 1
        c = rate(lambda k: crop(cch[items[k][0]].image(items[k][1])), len(items), repeat)
        rows.append(("cache uint8 1-ch RRC+flip (norm on device) vs reference pretrain", rows[0][1], c))
        mm, g = np.load(cache / "images.npy", mmap_mode="r"), np.random.default_rng(0)
        c = rate(lambda k: np.take(mm, g.integers(0, n, 256), axis=0), 20, repeat) * 256
        rows.append(("cache batch gather (256 rows) vs reference pretrain", rows[0][1], c))
        w = max(len(r[0]) for r in rows)
        print(f"{'path':<{w}}  {'reference img/s':>15}  {'cache img/s':>11}  {'ratio':>6}")
        for name, r, c in rows: print(f"{name:<{w}}  {r:>15.1f}  {c:>11.1f}  {c / r:>5.1f}×")
    finally:
        if keep is None: shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=48); p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--size", type=int, default=256); p.add_argument("--keep", default=None)
    a = p.parse_args(); main(a.n, a.repeat, a.size, a.keep)
