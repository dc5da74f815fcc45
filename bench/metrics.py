"""Timings of cxrvit.metrics on the NIH test shape (25,596 images × 14 labels, 2,797 patients), one thread.

    OMP_NUM_THREADS=1 python bench/metrics.py [--n-boot 1000] [--repeat 5]

Uses the paper's real test labels and patient ids when ../shared/data is present, synthetic ones otherwise;
scores are random with ties (3 decimals). Prints per_class_auc vs scikit-learn and the bootstrap time.
Not a test: a benchmark whose figures go into reports.
"""
import os
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(v, "1")
import argparse, json, time
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
from cxrvit.core import shared_data
from cxrvit.metrics import per_class_auc, bootstrap_aucs, auc_with_ci, paired_bootstrap, delong_per_class


def nih_test(seed=0):
    "(labels [N,14], patient ids [N], source)."
    d = shared_data("nih/paper_splits", required=False)
    if d:
        t = pd.read_csv(d / "test_official.txt", sep=" ", header=None)
        return t.iloc[:, 1:].to_numpy(float), t[0].str.slice(0, 8).to_numpy(), "real NIH test split"
    r = np.random.default_rng(seed)
    return (r.random((25_596, 14)) < 0.05).astype(float), r.integers(0, 2_797, 25_596), "synthetic"


def best(f, repeat):
    "Best wall time of `repeat` calls (s) and the last result."
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter(); out = f(); ts.append(time.perf_counter() - t0)
    return min(ts), out


def main(n_boot=1000, repeat=5):
    import torch; torch.set_num_threads(1)
    Y, pid, src = nih_test()
    S = np.round(np.random.default_rng(1).random(Y.shape) * 0.7 + Y * 0.3, 3)
    S2 = np.round(S + np.random.default_rng(2).normal(0, 0.1, Y.shape), 3)
    t_ours, a = best(lambda: per_class_auc(Y, S), repeat)
    t_sk, b = best(lambda: np.array([roc_auc_score(Y[:, k], S[:, k]) for k in range(Y.shape[1])]), repeat)
    t_boot, _ = best(lambda: bootstrap_aucs(Y, S, pid, n_boot=n_boot, seed=0), 1)
    t_ci, r = best(lambda: auc_with_ci(Y, S, pid, n_boot=n_boot), 1)
    t_pair, _ = best(lambda: paired_bootstrap(Y, S, S2, pid, n_boot=n_boot), 1)
    t_dl, _ = best(lambda: delong_per_class(Y, S, S2), repeat)
    res = {"data": src, "shape": list(Y.shape), "patients": int(len(np.unique(pid))), "threads": 1,
           "per_class_auc_ms": round(1e3 * t_ours, 1), "sklearn_roc_auc_score_ms": round(1e3 * t_sk, 1),
           "speedup": round(t_sk / t_ours, 1), "max_abs_diff_vs_sklearn": float(np.abs(a - b).max()),
           f"bootstrap_{n_boot}_s": round(t_boot, 2), f"auc_with_ci_{n_boot}_s": round(t_ci, 2),
           f"paired_bootstrap_{n_boot}_s": round(t_pair, 2), "delong_14_classes_ms": round(1e3 * t_dl, 1),
           "mauc": round(r.mauc, 4), "mauc_ci": [round(v, 4) for v in r.mauc_ci]}
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-boot", type=int, default=1000); p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args(); main(a.n_boot, a.repeat)
