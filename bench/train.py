"""MAE ViT-S training-step throughput: "reference-equivalent" settings vs cxrvit's defaults, in one process.

REF  = what lambert-x/medical_mae effectively ran: eager (explicit softmax) attention, unfused `foreach=False`
       AdamW, fp32 inputs, fp16 autocast + GradScaler on a GPU (fp32 on CPU), no compile.
OURS = cxrvit's engine defaults: SDPA attention, foreach (CPU) / fused (GPU) AdamW, bf16 autocast on a capable GPU
       (fp32 on CPU, as the engine does); `ours+compile` adds torch.compile (GPU mode).

    python bench/train.py --out bench_train_cpu.json            # CPU: batch 8 at 224², 1 thread, a few steps
    python bench/train.py --gpu --out bench_train_h200.json     # GPU: matmul peak, MAE-S d2 at batch 512, ±compile, MFU
    python bench/train.py --gpu --smoke --device cpu --out x.json   # the GPU code path at toy size (checks the script)

MFU uses analytic FLOPs (nbs/explanations/paper.ipynb#speed): one training step per image = 3 × forward FLOPs, forward of
MAE ViT-S/16 + 512×2 decoder at mask 0.9 = 3.773 GFLOP, divided by the bf16 matmul rate measured in the same run.
The GPU mode is sized to finish in ≤ 6 minutes including compilation (each phase has a time guard).
"""
import argparse, json, math, os, platform, statistics, sys, time
from pathlib import Path

import torch


# ---------------------------------------------------------------- analytic FLOPs (see nbs/explanations/paper.ipynb#speed)
def block_flops(n: int, d: int) -> float:
    "Forward FLOPs of one pre-norm transformer block (MLP ratio 4) on n tokens of width d."
    return 24 * n * d * d + 4 * n * n * d


def mae_forward_flops(embed_dim=384, depth=12, dec_dim=512, dec_depth=2, img=224, patch=16, chans=3, mask=0.9) -> float:
    "Forward FLOPs per image of an MAE (encoder on the kept tokens + cls, decoder on all tokens + cls)."
    L = (img // patch) ** 2
    keep = int(L * (1 - mask))  # 19 at 0.9: the reference's rounding
    pdim = patch * patch * chans
    enc = depth * block_flops(keep + 1, embed_dim) + 2 * L * pdim * embed_dim
    dec = dec_depth * block_flops(L + 1, dec_dim) + 2 * (keep + 1) * embed_dim * dec_dim + 2 * (L + 1) * dec_dim * pdim
    return enc + dec


assert abs(mae_forward_flops() / 1e9 - 3.773) < 0.005, mae_forward_flops()


# ---------------------------------------------------------------- variants
def set_fused_attn(model: torch.nn.Module, on: bool) -> int:
    "Switch timm attention modules between SDPA (on) and explicit softmax attention (off); returns how many."
    n = 0
    for m in model.modules():
        if hasattr(m, "fused_attn"): m.fused_attn = on; n += 1
    return n


def build(variant: str, device: torch.device, kw: dict, compile_mode: str | None = None):
    "-> (model, optimizer, autocast dtype, scaler) for 'ref', 'ours' or 'ours+compile'."
    from cxrvit.models import create_model
    from cxrvit.optim import param_groups_wd
    torch.manual_seed(0)
    model = create_model("mae_vit_small_patch16_dec512d2b", **kw).to(device)
    gpu = device.type == "cuda"
    groups = param_groups_wd(model, 0.05)
    if variant == "ref":
        assert set_fused_attn(model, False) > 0
        opt = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.95), foreach=False, fused=False)
        dtype = torch.float16 if gpu else None
        scaler = torch.amp.GradScaler("cuda") if gpu else None
    else:
        set_fused_attn(model, True)
        opt = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.95), **(dict(fused=True) if gpu else dict(foreach=True)))
        dtype = torch.bfloat16 if gpu and torch.cuda.is_bf16_supported() else (torch.bfloat16 if variant == "ours+bf16" else None)
        scaler = None
        if variant == "ours+compile": model = torch.compile(model, mode=compile_mode)
    return model, opt, dtype, scaler


def make_step(model, opt, dtype, scaler, device):
    def step(x):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = model(x, mask_ratio=0.9)[0]
        if scaler is not None:
            scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
        else:
            loss.backward(); opt.step()
        opt.zero_grad(set_to_none=True)
        return loss
    return step


def sync(device):
    if device.type == "cuda": torch.cuda.synchronize(device)


def time_steps(step, batches, device, n: int) -> list[float]:
    "Wall time of each of n steps (synchronised)."
    out = []
    for i in range(n):
        sync(device); t0 = time.perf_counter()
        step(batches[i % len(batches)])
        sync(device); out.append(time.perf_counter() - t0)
    return out


def gpu_batches(n_batches, batch, img, device):
    "Random uint8 256² 'cache' images on the device -> random-offset 224 crops, normalised fp32 (never zeros)."
    src = torch.randint(0, 256, (batch * n_batches, 256, 256), dtype=torch.uint8, device=device)
    out = []
    for b in range(n_batches):
        i, j = torch.randint(0, 256 - img + 1, (2,)).tolist()
        x = src[b * batch:(b + 1) * batch, i:i + img, j:j + img].float().div_(255).sub_(0.5056).div_(0.252)
        out.append(x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous())  # [B, 3, img, img]
    return out


# ---------------------------------------------------------------- modes
def cpu_mode(a) -> dict:
    torch.set_num_threads(a.threads)
    dev = torch.device("cpu")
    kw = dict(img_size=a.img)
    x = [torch.randn(a.batch, 3, a.img, a.img, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    variants = ["ref", "ours"] + (["ours+bf16"] if a.cpu_bf16 else [])
    steps = {v: make_step(*build(v, dev, kw), dev) for v in variants}
    for v in variants: time_steps(steps[v], x, dev, a.warmup)  # warm-up
    times = {v: [] for v in variants}
    for r in range(a.rounds):  # interleave variants: a shared machine's load hits both alike
        for v in variants: times[v] += time_steps(steps[v], x, dev, a.steps)
    res = {v: {"step_s_median": statistics.median(t), "img_s": a.batch / statistics.median(t), "n_steps": len(t)}
           for v, t in times.items()}
    for v in variants[1:]: res[v]["ratio_vs_ref"] = res[v]["img_s"] / res["ref"]["img_s"]
    return {"mode": "cpu", "batch": a.batch, "img": a.img, "threads": a.threads, "results": res}


def matmul_peak(device, n=8192, iters=20) -> float:
    "Measured dense bf16 matmul rate in FLOP/s (n³ GEMM, CUDA events)."
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16); b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3): a @ b
    sync(device); t0 = time.perf_counter()
    for _ in range(iters): a @ b
    sync(device)
    return 2 * n ** 3 * iters / (time.perf_counter() - t0)


def gpu_mode(a) -> dict:
    dev = torch.device(a.device or "cuda")
    t_start = time.perf_counter()
    smoke = a.smoke
    batch, img = (4, 64) if smoke else (a.gpu_batch, 224)
    kw = dict(img_size=img) if not smoke else dict(img_size=64, patch_size=8, embed_dim=64, depth=2, num_heads=2,
                                                     decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2)
    out = {"mode": "gpu" + ("-smoke" if smoke else ""), "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
           "torch": torch.__version__, "batch": batch, "img": img, "results": {}}
    peak = matmul_peak(dev, 512 if smoke else 8192, 3 if smoke else 20)
    out["matmul_bf16_flops"] = peak
    fwd = mae_forward_flops(img=img) if not smoke else mae_forward_flops(64, 2, 32, 1, img=64, patch=8)
    out["flops_per_image_train"] = 3 * fwd
    xs = gpu_batches(4, batch, img, dev)
    variants = a.variants.split(",") if a.variants else ["ref", "ours"] + ([] if a.no_compile else ["ours+compile"])
    warm, timed = (2, 3) if smoke else (a.gpu_warmup, a.gpu_steps)
    for v in variants:
        if time.perf_counter() - t_start > a.budget_s:
            out["results"][v] = {"skipped": f"time budget {a.budget_s}s used up"}; continue
        if dev.type == "cuda": torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(dev)
        step = make_step(*build(v, dev, kw, a.compile_mode), dev)
        t0 = time.perf_counter(); time_steps(step, xs, dev, warm); t_warm = time.perf_counter() - t0
        t = time_steps(step, xs, dev, timed)
        med = statistics.median(t)
        r = {"step_s_median": med, "img_s": batch / med, "warmup_s": t_warm, "n_steps": len(t),
             "mfu": 3 * fwd * batch / med / peak,
             "max_mem_gb": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None}
        out["results"][v] = r
        print(json.dumps({v: r}), flush=True)
        del step
    ref = out["results"].get("ref", {}).get("img_s")
    for v, r in out["results"].items():
        if ref and "img_s" in r: r["ratio_vs_ref"] = r["img_s"] / ref
    out["total_s"] = time.perf_counter() - t_start
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", "--json", dest="out", type=Path, help="write the JSON results here")
    p.add_argument("--gpu", action="store_true", help="GPU mode: matmul peak, MAE-S d2 at batch 512, ±compile, MFU")
    p.add_argument("--smoke", action="store_true", help="GPU mode at toy size (to check the script, e.g. on CPU)")
    p.add_argument("--device", help="device for --gpu (default cuda)")
    p.add_argument("--batch", type=int, default=8); p.add_argument("--img", type=int, default=224)
    p.add_argument("--threads", type=int, default=1); p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=2); p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cpu-bf16", action="store_true", help="also time bf16 autocast on CPU (AMX)")
    p.add_argument("--gpu-batch", type=int, default=512); p.add_argument("--gpu-warmup", type=int, default=10)
    p.add_argument("--gpu-steps", type=int, default=30); p.add_argument("--no-compile", action="store_true")
    p.add_argument("--variants", help="comma-separated subset of ref,ours,ours+compile (GPU mode)")
    p.add_argument("--compile-mode", default=None, help="torch.compile mode for ours+compile, e.g. max-autotune")
    p.add_argument("--budget-s", type=float, default=300, help="GPU mode: skip remaining variants after this")
    a = p.parse_args(argv)
    res = gpu_mode(a) if a.gpu else cpu_mode(a)
    res["env"] = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count()}
    text = json.dumps(res, indent=1)
    print(text)
    if a.out: a.out.parent.mkdir(parents=True, exist_ok=True); a.out.write_text(text)


if __name__ == "__main__":
    main()
