"""`cxrvit predict` throughput on the CPU: images/s of decode + eval transform + forward (heat maps excluded).

    python bench/predict.py [--n 64] [--threads 2] [--batch-size 16]

Writes `n` synthetic 512² PNGs, then times `cxrvit.infer.predict_images` for the tiny ViT (64², patch 8, 2 blocks)
and a ViT-S/16 at 224² (random weights; speed does not depend on them), and Grad-CAM per map for both.
Prints one JSON line. Not a test: its figures go into reports.
"""
import argparse, json, os, time
p = argparse.ArgumentParser(); p.add_argument("--n", type=int, default=64); p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch-size", type=int, default=16); a = p.parse_args()
for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"): os.environ[v] = str(a.threads)
import torch
torch.set_num_threads(a.threads)
from cxrvit.explain import gradcam
from cxrvit.infer import predict_speed
from cxrvit.models import create_model

TINY = dict(patch_size=8, embed_dim=64, depth=2, num_heads=2, global_pool=True)

def cam_speed(size, n=16, **kw):
    "Grad-CAM maps per second (batch of n)."
    m = create_model("vit_small_patch16", num_classes=14, img_size=size, **kw).eval(); x = torch.randn(n, 3, size, size)
    gradcam(m, x[:2], [0, 0]); t0 = time.perf_counter(); gradcam(m, x, [0] * n)
    return n / (time.perf_counter() - t0)

res = {"threads": a.threads, "n": a.n, "batch_size": a.batch_size,
       "predict_img_s": {"tiny_vit_64": round(predict_speed("vit_small_patch16", 64, a.n, a.batch_size, **TINY), 1),
                         "vit_s16_224": round(predict_speed("vit_small_patch16", 224, a.n, a.batch_size, global_pool=True), 1)},
       "gradcam_maps_s": {"tiny_vit_64": round(cam_speed(64, **TINY), 1), "vit_s16_224": round(cam_speed(224, global_pool=True), 1)}}
print(json.dumps(res))
