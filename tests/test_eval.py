"Out-of-process checks of the evaluation area: the metrics benchmark runs; predict_table on CUDA (AMP) matches CPU."
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_bench_metrics_runs():
    "bench/metrics.py runs with one thread and reports AUCs equal to scikit-learn's."
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "bench/metrics.py", "--n-boot", "20", "--repeat", "1"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout[r.stdout.index("{"):])
    assert res["shape"] == [25596, 14] and res["max_abs_diff_vs_sklearn"] < 1e-6
    assert res["mauc_ci"][0] <= res["mauc"] <= res["mauc_ci"][1]


class _DS(torch.utils.data.Dataset):
    "In-memory labelled dataset following the cxrvit.data contract."
    def __init__(self, n=300, k=5):
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(n, 3, 64, 64, generator=g); self.y = (torch.rand(n, k, generator=g) < 0.3).float()
        self.labels = [f"c{j}" for j in range(k)]; self.ids = [f"im{i}.png" for i in range(n)]
        self.table = pd.DataFrame({"image": self.ids, "patient_id": [f"p{i // 3}" for i in range(n)]})
    def __len__(self): return len(self.x)
    def __getitem__(self, i): return self.x[i], self.y[i], self.ids[i]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_predict_cuda_amp_matches_cpu():
    from cxrvit.evaluate import predict_table, summarize_predictions
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(8, 5))
    ds = _DS()
    cpu = predict_table(net, ds, batch_size=64, device="cpu")
    gpu = predict_table(net, ds, batch_size=64, device="cuda", num_workers=2)
    amp = predict_table(net, ds, batch_size=64, device="cuda", amp=True)
    p = [d.filter(like="p_").to_numpy() for d in (cpu, gpu, amp)]
    assert np.abs(p[0] - p[1]).max() < 1e-4 and np.abs(p[0] - p[2]).max() < 1e-2
    assert cpu[["image", "patient_id"]].equals(amp[["image", "patient_id"]])
    assert abs(summarize_predictions(cpu, n_boot=0)["mauc"] - summarize_predictions(amp, n_boot=0)["mauc"]) < 0.02
