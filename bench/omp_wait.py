"""CPU training speed under core contention, by OpenMP wait policy: `python bench/omp_wait.py [--json]`.

Runs the same tiny-MAE training loop (64² images, batch 64) in fresh processes with OMP_WAIT_POLICY
ACTIVE, PASSIVE (cxrvit's default) and a short spin (GOMP_SPINCOUNT=10000), first on the machine as it is, then with one
busy-looping process per core beside it. Prints img/s per case and the PASSIVE/ACTIVE ratios.
"""
import argparse, json, multiprocessing as mp, os, subprocess, sys, time

LOOP = r"""
import time, torch
from cxrvit.mae import mae_vit_small_patch16_dec512d2b
torch.manual_seed(0)
m = mae_vit_small_patch16_dec512d2b(img_size=64, patch_size=8, embed_dim=64, depth=2, num_heads=2,
                                    decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2,
                                    norm_pix_loss=True)
opt, x = torch.optim.AdamW(m.parameters(), 1e-3), torch.randn(64, 3, 64, 64)
def step():
    loss = m(x, mask_ratio=0.9)[0]
    opt.zero_grad()
    loss.backward()
    opt.step()
for _ in range(3): step()
t, n = time.time(), 0
while time.time() - t < SECONDS:
    step()
    n += 1
print(n * 64 / (time.time() - t))
"""


def _spin():
    while True: pass


CASES = {"ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE"}, "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
         "spin10k": {"GOMP_SPINCOUNT": "10000"}}  # libgomp: spin 10k rounds, then sleep


def rate(case: str, seconds: float) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(CASES[case])
    out = subprocess.run([sys.executable, "-c", LOOP.replace("SECONDS", str(seconds))], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seconds", type=float, default=10.0)
    a = ap.parse_args()
    res = {}
    for load in ("as-is", "busy"):
        spinners = [mp.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() if load == "busy" else 0)]
        for p in spinners: p.start()
        try: res[load] = {c: round(rate(c, a.seconds)) for c in CASES}
        finally:
            for p in spinners: p.terminate()
        res[load]["passive_over_active"] = round(res[load]["PASSIVE"] / res[load]["ACTIVE"], 2)
    res["cpus"] = os.cpu_count()
    if a.json: print(json.dumps(res))
    else:
        for k in ("as-is", "busy"): print(f"{k:6s}: {res[k]}")


if __name__ == "__main__": main()
