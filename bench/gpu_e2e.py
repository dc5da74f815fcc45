"""End-to-end GPU figures of the real training paths in one lease (≤ 7 min on one H200): see bench/gpu_e2e.sh.

    python bench/gpu_e2e.py --out DIR [--n 50000] [--budget-s 400]
    python bench/gpu_e2e.py --out DIR --smoke --device cpu     # the same code at toy size (checks the script)

1. writes a synthetic NIH-format 256² uint8 cache of `n` images (smooth random grey images, made on the device);
2. step-only: `bench/train.py --gpu --variants ours+compile` (MAE ViT-S d2, bf16, compiled, batch 512 on fixed
   device tensors) — also the measured bf16 matmul peak and FLOPs per image;
3. `cxrvit pretrain --recipe pretrain_vit_s` on the cache, compiled + bf16, batch 512, 2 epochs, twice: with the
   GPU-resident input (`input_path=device`) and with DataLoader workers (`input_path=cpu`, one per core);
4. `cxrvit finetune --recipe finetune_vit_s_nih` on the cache (RandAugment on CPU workers), compiled + bf16,
   batch 256, 1 epoch.
End-to-end img/s come from the runs' step records after the first 2 intervals (compilation); data_frac is
their data-wait fraction. Writes DIR/gpu_e2e.json with projections of the paper's runs at those rates.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path
import numpy as np

HERE = Path(__file__).resolve().parent
PAPER_PRETRAIN_IMAGES, PRETRAIN_EPOCHS = 266_340, 800  # the paper's X-ray corpus and schedule
NIH_TRAIN_IMAGES, FINETUNE_EPOCHS = 75_312, 75  # NIH train_official, the fine-tune schedule


def write_cache(out: Path, n: int, size: int, device: str, seed: int = 0) -> Path:
    "A complete cxrvit cache (meta, index, splits: 92% train, 4% val, 4% test) of smooth random grey images."
    import hashlib, pandas as pd, torch, torch.nn.functional as F
    from cxrvit.data import NIH_LABELS
    out.mkdir(parents=True, exist_ok=True)
    mm = np.lib.format.open_memmap(out / "images.npy", "w+", np.uint8, (n, size, size))
    g = torch.Generator(device).manual_seed(seed)
    for a in range(0, n, 2048):
        b = min(2048, n - a)
        low = torch.rand(b, 1, 12, 12, generator=g, device=device)
        img = F.interpolate(low, size=(size, size), mode="bicubic", align_corners=False)  # [b, 1, S, S]
        mm[a : a + b] = (img.clamp(0, 1) * 220 + 16).to(torch.uint8)[:, 0].cpu().numpy()
    mm.flush()
    ids = [f"{i:08d}_000.png" for i in range(n)]
    rs = np.random.default_rng(seed)
    lab = pd.DataFrame((rs.random((n, len(NIH_LABELS))) < 0.08).astype(np.float32), columns=NIH_LABELS)
    table = pd.concat([pd.DataFrame({"image": ids, "patient_id": [f"p{i // 3}" for i in range(n)]}), lab], axis=1)
    cut = [0, int(n * 0.92), int(n * 0.96), n]
    splits = dict(zip(("train", "val", "test"), (table.iloc[cut[k] : cut[k + 1]] for k in range(3))))
    for s, t in splits.items(): t.to_csv(out / f"split_{s}.csv", index=False)
    pd.DataFrame({"image": ids, "row": range(n), "source": [f"images/{i}" for i in ids], "width": size,
                  "height": size, "sha256": ""}).to_csv(out / "index.csv", index=False)
    meta = {"dataset": "nih", "root": "synthetic", "size": size, "fit": "crop", "n": n,
            "ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(), "splits": sorted(splits),
            "labels": {s: list(NIH_LABELS) for s in splits}, "complete": True}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return out


def run(cmd: list, timeout: float, env: dict) -> dict:
    "Run a command; return rc, seconds and the tail of its output."
    t0 = time.perf_counter()
    try:
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=max(timeout, 1), env=env)
        rc, tail = r.returncode, (r.stdout + r.stderr)[-3000:]
    except subprocess.TimeoutExpired as e:
        rc, tail = "timeout", str(e)[-500:]
    return {"rc": rc, "s": round(time.perf_counter() - t0, 1), "tail": tail if rc != 0 else tail[-300:]}


def run_stats(run_dir: Path, batch: int, skip: int = 2) -> dict:
    "img/s, data-wait fraction, peak memory and step time from a run's step records (first `skip` dropped)."
    recs = [json.loads(l) for l in (run_dir / "log.jsonl").read_text().splitlines() if l.strip()]
    steps = [r for r in recs if r["kind"] == "step"][skip:]
    inp = [r for r in recs if r["kind"] == "input"]
    if not steps: return {"error": "no step records after warm-up"}
    return {"img_s": float(np.median([r["img_s"] for r in steps])), "data_frac": float(np.mean([r["data_frac"] for r in steps])),
            "peak_mem_mb": max(r["mem_mb"] for r in steps), "step_records": len(steps),
            "pipeline": inp[0]["pipeline"] if inp else None, "loss_check": inp[0]["loss_check"] if inp else None,
            "last_loss": steps[-1]["loss"]}


def main(a):
    t_start, out = time.perf_counter(), Path(a.out); out.mkdir(parents=True, exist_ok=True)
    left = lambda: a.budget_s - (time.perf_counter() - t_start)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    smoke = a.smoke
    n, b_pre, b_ft = (a.n, 512, 256) if not smoke else (96, 8, 8)
    res = {"n_images": n, "device": a.device, "smoke": smoke, "phases": {}}
    t0 = time.perf_counter()
    cache = write_cache(Path(a.work) / "cache256", n, 256 if not smoke else 64, a.device)
    res["phases"]["write_cache"] = {"s": round(time.perf_counter() - t0, 1)}
    step_cmd = [sys.executable, HERE / "train.py", "--gpu", "--variants", "ours" if smoke else "ours+compile", "--gpu-batch", b_pre,
                "--budget-s", 100, "--json", out / "step_only.json"] + (["--smoke", "--device", a.device] if smoke else [])
    res["phases"]["step_only"] = run(step_cmd, min(150, left() - 200), env)
    step = json.loads((out / "step_only.json").read_text()) if (out / "step_only.json").exists() else {}
    sres = step.get("results", {}).get("ours" if smoke else "ours+compile", {})
    peak, flops = step.get("matmul_bf16_flops"), step.get("flops_per_image_train")
    res["step_only"] = {"img_s": sres.get("img_s"), "mfu": sres.get("mfu"), "matmul_bf16_flops": peak,
                        "flops_per_image_train": flops, "peak_mem_gb": sres.get("max_mem_gb")}
    cli = [sys.executable, "-m", "cxrvit.cli"]
    common = ["--device", a.device, "--data-root", cache]
    pre = "pretrain_vit_s" if not smoke else "pretrain_vit_s_tiny"
    workers = os.cpu_count() or 1
    for path in ("device", "cpu"):
        rd = Path(a.work) / f"pre_{path}"
        sets = [f"batch_size={b_pre}", f"batch_per_device={b_pre}", "epochs=2", "warmup_epochs=1",
                       f"input_path={path}", f"num_workers={workers}", "save_every=100"]
        if not smoke: sets += ["compile=True", "amp=bf16"]
        res["phases"][f"pretrain_{path}"] = run(cli + ["pretrain", "--recipe", pre, "--run-dir", rd, "--set", *sets] + common,
                                                min(120, left() - 70 if path == "device" else left() - 60), env)
        res[f"pretrain_{path}"] = run_stats(rd, b_pre) if (rd / "log.jsonl").exists() else {"error": "no log"}
    ft = "finetune_vit_s_nih" if not smoke else "finetune_vit_s_nih_tiny"
    rd = Path(a.work) / "ft"
    sets = [f"batch_size={b_ft}", f"batch_per_device={b_ft}", "epochs=1", "warmup_epochs=0", f"num_workers={workers}",
            "save_every=100"] + (["compile=True", "amp=bf16"] if not smoke else [])
    res["phases"]["finetune"] = run(cli + ["finetune", "--recipe", ft, "--run-dir", rd, "--set", *sets] + common,
                                    max(left() - 5, 10), env)
    res["finetune"] = run_stats(rd, b_ft) if (rd / "log.jsonl").exists() else {"error": "no log"}
    dev_e2e, ft_e2e = res["pretrain_device"].get("img_s"), res["finetune"].get("img_s")
    step_s = res["step_only"]["img_s"]
    res["summary"] = {
        "pretrain_e2e_img_s_device_input": dev_e2e, "pretrain_e2e_img_s_cpu_workers": res["pretrain_cpu"].get("img_s"),
        "pretrain_step_only_img_s": step_s,
        "e2e_vs_step_only": dev_e2e / step_s if dev_e2e and step_s else None,
        "mfu_step_only": res["step_only"]["mfu"],
        "mfu_e2e": dev_e2e * flops / peak if dev_e2e and flops and peak else None,
        "data_frac_device_input": res["pretrain_device"].get("data_frac"),
        "data_frac_cpu_workers": res["pretrain_cpu"].get("data_frac"),
        "peak_mem_mb_device_input": res["pretrain_device"].get("peak_mem_mb"),
        "projected_pretrain_800ep_h": PAPER_PRETRAIN_IMAGES * PRETRAIN_EPOCHS / dev_e2e / 3600 if dev_e2e else None,
        "projected_finetune_75ep_min": NIH_TRAIN_IMAGES * FINETUNE_EPOCHS / ft_e2e / 60 if ft_e2e else None,
        "finetune_e2e_img_s": ft_e2e, "finetune_data_frac": res["finetune"].get("data_frac")}
    res["total_s"] = round(time.perf_counter() - t_start, 1)
    text = json.dumps(res, indent=1, default=str)
    (out / "gpu_e2e.json").write_text(text); print(json.dumps(res["summary"], indent=1)); return res


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True); p.add_argument("--work", default="/tmp/cxrvit_e2e")
    p.add_argument("--n", type=int, default=50_000); p.add_argument("--device", default="cuda")
    p.add_argument("--budget-s", type=float, default=400); p.add_argument("--smoke", action="store_true")
    main(p.parse_args())
