"""`cxrvit run NAME --smoke --data-root HOME` on a synthetic data home in the real on-disk layouts, then
`cxrvit results --smoke`. `make test` runs one entry per kind of step (MAE pre-training on the 0.3M corpus,
fine-tune, evaluate, a fine-tune-only ablation arm sharing that pre-training, a pre-training ablation arm, a
label fraction, CheXpert, COVIDx, a row with outside weights); `make test-slow` runs every registry entry."""
import json, os, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from _home import input_for, slow

ROOT = Path(__file__).resolve().parent.parent
FAST = ["table1/vit_s_xray_mae", "ablations/layer_decay/layer_decay=0.45", "ablations/rrc_scale/rrc_scale=(0.2, 1.0)",
        "label_fraction/vit_s_xray_mae/label_fraction=0.1", "chexpert/vit_s_xray_mae", "covidx/vit_s_xray_mae",
        "table1/vit_s_imagenet_sup", "table1/densenet121_xray_mocov2"]


def cli(*args, env=None, timeout=3000):
    return subprocess.run([sys.executable, "-m", "cxrvit.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def run(world, name):
    from cxrvit.experiments import load_registry
    e = load_registry()[name]
    extra = ["--input", f"weights={input_for(name, world['w'])}"] if e.needs else []
    r = cli("run", name, "--smoke", "--data-root", world["home"], "--runs", world["runs"], "--device", "cpu", *extra,
            env=world["env"])
    assert r.returncode == 0, f"{name}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def names():
    from cxrvit.experiments import load_registry
    return sorted(load_registry()) if slow() else FAST


def test_smoke_runs_and_results(world):
    outs = {n: run(world, n) for n in names() if n != "demo"}
    first = outs["table1/vit_s_xray_mae"].stdout
    assert "pretrain: epoch" in first and "img/s" in first, first[-2000:]  # progress while the step trains
    shared = outs["ablations/layer_decay/layer_decay=0.45"].stdout
    assert "pretrain: done, skipped" in shared, shared[-2000:]  # the arm fine-tunes table1's pre-training
    r = cli("results", "--smoke", "--runs", world["runs"], "--out", world["runs"] / "res", env=world["env"])
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(world["runs"] / "res" / "results.csv").set_index("experiment")
    for n in outs:
        assert n in df.index, (n, r.stdout)
    assert df.loc["covidx/vit_s_xray_mae", "metric"] == "accuracy" and df.loc["covidx/vit_s_xray_mae", "paper"] == 95.2
    assert df.loc["chexpert/vit_s_xray_mae", "metric"] == "mauc" and df.loc["chexpert/vit_s_xray_mae", "paper"] == 89.2
    assert df.loc["table1/vit_s_xray_mae", "paper"] == 82.3
    assert df.ours.between(0, 100).all() and df.ours_official.notna().all()
    assert (df.protocol.str.startswith("val-selected")).all()
    assert cli("results", "--runs", world["runs"], env=world["env"]).stdout.startswith("no finished experiments")


def test_mocov2_row_pretrains_with_moco(world):
    "table1/densenet121_xray_mocov2 is pretrain (MoCo v2) → finetune from its encoder → evaluate, no outside weights."
    d = world["runs"] / "smoke" / "table1/densenet121_xray_mocov2"
    pre = json.loads((d / "pretrain" / "metrics.json").read_text())["pretrain"]
    assert pre["method"] == "MoCo v2" and pre["corpus"] == "xray_0.3m" and (d / "pretrain" / "encoder.pth").exists()
    assert json.loads((d / "metrics.json").read_text())["metric"] == "mauc"


def test_smoke_runs_never_count_as_real(world):
    m = json.loads((world["runs"] / "smoke" / "table1/vit_s_xray_mae" / "metrics.json").read_text())
    assert m["smoke"] is True and not (world["runs"] / "table1").exists()


def test_chexpert_and_covidx_select_on_a_held_out_val(world):
    for name in ("chexpert/vit_s_xray_mae", "covidx/vit_s_xray_mae"):
        d = json.loads((world["runs"] / "smoke" / name / "finetune" / "data.json").read_text())["splits"]
        assert d["val"]["source"]["split"] == "train (held-out val)", d
        assert d["test"]["source"]["split"] in ("valid", "test"), d
    cov = json.loads((world["runs"] / "smoke" / "covidx/vit_s_xray_mae" / "metrics.json").read_text())
    p = pd.read_csv(world["runs"] / "smoke" / "covidx/vit_s_xray_mae" / "evaluate" / "predictions_test.csv.gz")
    probs = p[[c for c in p.columns if c.startswith("p_")]].sum(1)
    assert ((probs - 1).abs() < 1e-5).all()  # softmax probabilities
    assert "accuracy" in cov["test"] and cov["paper_protocol"]["max_test_accuracy"] is not None


def test_a_missing_dataset_is_named_before_anything_runs(world, tmp_path):
    (tmp_path / "nih").symlink_to(world["home"] / "nih")
    r = cli("run", "table1/vit_s_xray_mae", "--smoke", "--data-root", tmp_path, "--runs", tmp_path / "runs")
    assert r.returncode == 1 and "needs chexpert" in r.stdout and str(tmp_path / "chexpert") in r.stdout, r.stdout
    assert not (tmp_path / "runs" / "smoke" / "table1").exists()
    r = cli("run", "table1/vit_s_xray_mae", "--data-root", tmp_path, "--set", "mask_ratioo=0.5", "--dry-run")
    last = r.stderr.strip().splitlines()[-1]  # a key no step's recipe has: one line, exit 2, no table
    assert r.returncode == 2 and last.startswith("cxrvit run: error: --set mask_ratioo") and not r.stdout, r
