"""Input-pipeline speed, one core, one run, same images: the reference PNG path vs the cache paths.

    python bench/data.py [--n 48] [--repeat 3] [--json PATH] [--keep DIR]

Writes `n` synthetic 1024² NIH-format PNGs (cxrvit.synth), builds 256² and 512² caches of them in one pass
(cxrvit.cache), then times, with torch.set_num_threads(1), images/s of:

- ref_pretrain / ref_finetune: what the official code does per sample — decode the 1024² PNG (PIL, 'RGB'), then
  the paper's 3-channel transform (torchvision RRC 0.5–1 + flip + normalise / timm RRC 0.08–1 + RandAugment);
- cpu_pretrain / cpu_finetune: a DataLoader worker's work on the cached path — the cache row as an 'L' image
  (256² for pre-training; fine-tuning at 256² and at the 512² fine-tuning cache) through the grey pipelines
  of cxrvit.transforms (their crops and RandAugment's shears and translations on cxrvit.fastpil's kernels,
  Pillow's bytes) with the per-sample seeding a worker does (cxrvit.engine.SeededItems);
- device_path_cpu: the device path's code (cxrvit.gpu_input: row gather, crop draws, Pillow-bicubic crop-resize
  (per image on a CPU), flip, normalise, grey→3) run on the CPU, batches of 256 from the 256² cache.

Paths are timed in interleaved rounds (best of `repeat`). Prints a table and the ratios; `--json` writes them (keys above + `*_vs_ref`). Not a test: figures for reports.
"""
import os
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(v, "1")
import argparse, json, platform, random, shutil, tempfile, time
from pathlib import Path
import numpy as np, torch
from torchvision import transforms as T
from cxrvit.synth import make_synthetic_nih
from cxrvit.cache import build_cache, CachedNIHDataset
from cxrvit.data import NIHDataset
from cxrvit.engine import sample_seed
from cxrvit.gpu_input import augment, draw_params, spec_from_transform
from cxrvit.datahome import classifier_transforms, pretrain_part_transform
from cxrvit.recipes import FINETUNE_VIT_S_NIH, PRETRAIN_VIT_S


def rates(paths: dict, repeat: int) -> dict:
    """Best items/s of each path over `repeat` rounds, paths interleaved in each round (a loaded machine's load
    changes over time; interleaving spreads it over all paths alike). paths: name -> (get, n calls, items/call)."""
    best = dict.fromkeys(paths, 0.0)
    for _ in range(repeat):
        for name, (get, n, per) in paths.items():
            t0 = time.perf_counter()
            for i in range(n): get(i)
            best[name] = max(best[name], n * per / (time.perf_counter() - t0))
    return best


def device_path_step(cache_dir, b=256):
    "The device path's per-step work on the CPU, as a function of the step index."
    imgs = torch.from_numpy(np.load(cache_dir / "images.npy"))  # [N, S, S] uint8, in memory as on the GPU
    spec, s = spec_from_transform(pretrain_part_transform(PRETRAIN_VIT_S, "nih")), imgs.shape[-1]
    g, idx = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    def step(_):
        rows = torch.randint(0, len(imgs), (b,), generator=idx)
        return augment(torch.index_select(imgs, 0, rows), draw_params(g, b, s, s, spec.scale, spec.ratio, spec.hflip), spec)
    step(0)
    return step


def main(n=48, repeat=4, out=None, keep=None):
    torch.set_num_threads(1); torch.manual_seed(0)
    tmp = Path(keep or tempfile.mkdtemp(prefix="cxrvit_bench_"))
    try:
        root = make_synthetic_nih(tmp / "nih", n=n, size=1024, seed=0, workers=None, progress=False)
        t0 = time.perf_counter()
        c256, c512 = build_cache("nih", root, tmp / "cache", size=(256, 512), workers=1, progress=False)
        build_ips = n / (time.perf_counter() - t0)
        splits = ("train", "val", "test")
        items = [(s, i) for s in splits for i in range(len(NIHDataset(root, split=s)))]  # every image once
        def getter(make_ds, tf, seeded=False):
            dss = {s: make_ds(s) for s in splits}
            for d in dss.values(): d.transform = tf
            if seeded:  # what SeededItems does in a worker process: seed torch, python, numpy, then transform
                def get(k):
                    sd = sample_seed(0, 0, k); random.seed(sd); np.random.seed(sd % 2**32)
                    torch.default_generator.manual_seed(sd)  # the CPU generator, as SeededItems
                    return dss[items[k][0]][items[k][1]]
                return get, len(items), 1
            return lambda k: dss[items[k][0]][items[k][1]], len(items), 1
        png = lambda s: NIHDataset(root, split=s)
        cached = lambda c: (lambda s: CachedNIHDataset(c, split=s))
        ref_pre = T.Compose(pretrain_part_transform(PRETRAIN_VIT_S, "nih").transforms)  # the plain 3-channel torchvision pipeline
        ref_ft = T.Compose(classifier_transforms(FINETUNE_VIT_S_NIH)[0].transforms)  # timm's 3-channel pipeline
        r = rates({"ref_pretrain": getter(png, ref_pre), "ref_finetune": getter(png, ref_ft),
                   "cpu_pretrain": getter(cached(c256), pretrain_part_transform(PRETRAIN_VIT_S, "nih"), True),
                   "cpu_finetune": getter(cached(c256), classifier_transforms(FINETUNE_VIT_S_NIH)[0], True),
                   "cpu_finetune_512": getter(cached(c512), classifier_transforms(FINETUNE_VIT_S_NIH)[0], True),
                   "cpu_pretrain_rgb": getter(cached(c256), ref_pre), "cpu_finetune_rgb": getter(cached(c256), ref_ft),
                   "device_path_cpu": (device_path_step(c256), 2, 256)}, repeat)
        ratios = {"cpu_pretrain_vs_ref": r["cpu_pretrain"] / r["ref_pretrain"],
                  "cpu_finetune_vs_ref": r["cpu_finetune"] / r["ref_finetune"],
                  "cpu_finetune_512_vs_ref": r["cpu_finetune_512"] / r["ref_finetune"],
                  "device_path_cpu_vs_ref": r["device_path_cpu"] / r["ref_pretrain"]}
        res = {**{k: round(v, 1) for k, v in r.items()}, **{k: round(v, 2) for k, v in ratios.items()},
               "unit": "images/s, one core", "n_images": n, "cache_build_img_s": round(build_ips, 1),
               "machine": platform.processor() or platform.machine(), "torch": torch.__version__}
        w = max(map(len, r))
        print(f"{n} synthetic 1024² PNGs; 256² + 512² caches built in one pass at {build_ips:.1f} img/s on one core")
        for k, v in r.items(): print(f"{k:<{w}}  {v:>10.1f} img/s")
        for k, v in ratios.items(): print(f"{k:<{w}}  {v:>10.2f}×")
        if out: Path(out).write_text(json.dumps(res, indent=1))
        return res
    finally:
        if keep is None: shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=48); p.add_argument("--repeat", type=int, default=4)
    p.add_argument("--json", default=None, help="write the results here"); p.add_argument("--keep", default=None)
    a = p.parse_args(); main(a.n, a.repeat, a.json, a.keep)
