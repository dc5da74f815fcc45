"""`cxrvit explain-eval` as a user runs it: a run folder's checkpoint-best.pth scored against a synthetic root's
BBox_List_2017.csv; JSON + CSV written; no overwrite; a CNN with an attention method is a clear error."""
import json, os, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "cxrvit.cli", "explain-eval", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_folder(path, recipe):
    "A run folder as fine-tuning leaves it (only the file explain-eval reads: checkpoint-best.pth)."
    from cxrvit.checkpoint import atomic_torch_save, to_plain
    from cxrvit.models import create_model
    torch.manual_seed(0); path.mkdir(parents=True)
    m = create_model(recipe.model, **recipe.model_kwargs())
    atomic_torch_save(to_plain({"model": m.state_dict(), "epoch": 0, "args": recipe.to_dict()}), path / "checkpoint-best.pth")
    return path


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from cxrvit.synth import make_synthetic_nih
    return make_synthetic_nih(tmp_path_factory.mktemp("s"), n=40, size=64, seed=3, workers=1, progress=False,
                              min_prevalence=0.3)


def test_explain_eval_writes_tables(synth, tmp_path):
    from cxrvit.recipes import FINETUNE_VIT_S_NIH_TINY
    run = run_folder(tmp_path / "run", FINETUNE_VIT_S_NIH_TINY)
    r = cli("--run", run, "--data-root", synth, "--method", "rollout", "--n-boot", "50")
    assert r.returncode == 0, r.stderr[-3000:]
    out = run / "explain-rollout"
    res = json.loads((out / "explain.json").read_text())
    n_boxes = len(pd.read_csv(synth / "BBox_List_2017.csv").drop_duplicates(["Image Index", "Finding Label"]))
    assert res["boxes_scored"] == n_boxes and set(res["pointing"]) == {"rollout", "centre"}
    t = pd.read_csv(out / "explain.csv")
    assert {"pointing", "pointing_lo", "pointing_hi", "iou@0.5", "hit@0.7"} <= set(t.columns)
    assert "all" in set(t.finding) and "Infiltration" in set(t.finding) | {"Infiltration"}
    r = cli("--run", run, "--data-root", synth, "--method", "rollout")
    assert r.returncode == 2 and "never overwritten" in r.stderr


def test_cnn_attention_is_an_error(synth, tmp_path):
    from cxrvit.recipes import FINETUNE_RESNET50_NIH_TINY
    run = run_folder(tmp_path / "cnn", FINETUNE_RESNET50_NIH_TINY)
    r = cli("--run", run, "--data-root", synth, "--method", "attention")
    assert r.returncode == 2 and "needs a ViT" in r.stderr
    r = cli("--run", tmp_path / "none", "--data-root", synth)
    assert r.returncode == 2 and "does not exist" in r.stderr
