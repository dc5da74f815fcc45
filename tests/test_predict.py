"""`cxrvit predict` as a user runs it (`python -m cxrvit.cli predict ...`): real sample PNG/JPEG/DICOM files, a
folder with one corrupt file, exit codes 0 / 3 / 2, a cxrvit checkpoint and an official-layout ViT checkpoint."""
import argparse, os, shutil, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "cxrvit.cli", "predict", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    "The shared real images (NIH PNGs, PadChest JPEG, TBX11K PNG, two DICOMs) in one folder."
    from cxrvit.core import shared_data
    d = tmp_path_factory.mktemp("imgs")
    for sub in ("samples", "nih/images"):
        src = shared_data(sub)
        if src is None: pytest.skip(f"shared data {sub} missing")
        for f in sorted(src.iterdir()): shutil.copy(f, d / f.name)
    return d


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    "A tiny cxrvit checkpoint (what a fine-tune run writes) with thresholds: only Atelectasis can be positive."
    from cxrvit.checkpoint import atomic_torch_save, to_plain
    from cxrvit.models import create_model
    from cxrvit.recipes import FINETUNE_VIT_S_NIH_TINY as r
    torch.manual_seed(0); m = create_model(r.model, **r.model_kwargs())
    p = tmp_path_factory.mktemp("w") / "tiny.pth"
    atomic_torch_save(to_plain({"model": m.state_dict(), "epoch": 0, "args": r.to_dict(),
                                "thresholds": [0.0] + [1.01] * 13}), p)
    return p


def test_real_images_and_a_corrupt_file(images, weights, tmp_path):
    "Every real file is predicted; the corrupt one is listed with its reason, and the exit code is 3."
    d = tmp_path / "in"; shutil.copytree(images, d)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    r = cli("--weights", weights, d, "--out", tmp_path / "out", "--batch-size", "4")
    assert r.returncode == 3, r.stderr[-3000:]
    assert "predict" in r.stderr and "img" in r.stderr  # the tqdm bar is on stderr
    t = pd.read_csv(tmp_path / "out" / "predictions.csv"); t.index = t.path.map(lambda s: Path(s).name)
    assert len(t) == len(list(images.iterdir())) + 1
    assert t.loc["broken.png", "status"] == "failed" and "not a readable image" in t.loc["broken.png", "error"]
    ok = t.drop("broken.png")
    assert (ok.status == "ok").all() and {".png", ".jpg", ".dcm"} <= {Path(p).suffix for p in ok.index}
    labels = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
              "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]
    assert ok[labels].notna().all().all() and ((ok[labels] >= 0) & (ok[labels] <= 1)).all().all()
    assert (ok["Atelectasis_positive"] == 1).all() and (ok["Hernia_positive"] == 0).all()
    f = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert f.path.map(lambda s: Path(s).name).tolist() == ["broken.png"]
    maps = sorted((tmp_path / "out" / "heatmaps").iterdir())
    assert len(maps) == len(ok) and all(m.name.endswith("__Atelectasis.png") for m in maps)
    page = (tmp_path / "out" / "index.html").read_text()
    assert "broken.png" in page and all(f'src="heatmaps/{m.name}"' in page for m in maps)


def test_all_readable_exits_0_and_no_heatmaps(images, weights, tmp_path):
    r = cli("--weights", weights, images / "h0001.png", images / "Fake_MONOHR1.dcm", "--out", tmp_path / "o",
            "--no-heatmaps", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    t = pd.read_csv(tmp_path / "o" / "predictions.csv")
    assert t.status.tolist() == ["ok", "ok"] and not (tmp_path / "o" / "failures.csv").exists()
    assert not (tmp_path / "o" / "heatmaps").exists()


def test_bad_arguments_exit_2(images, weights, tmp_path):
    r = cli("--weights", weights, tmp_path / "nope", "--out", tmp_path / "o")
    assert r.returncode == 2 and "cxrvit predict: error: input" in r.stderr and "does not exist" in r.stderr
    r = cli("--weights", tmp_path / "none.pth", images, "--out", tmp_path / "o")
    assert r.returncode == 2 and "does not exist" in r.stderr
    (tmp_path / "o").mkdir(); (tmp_path / "o" / "predictions.csv").write_text("x\n")
    r = cli("--weights", weights, images, "--out", tmp_path / "o")
    assert r.returncode == 2 and "never overwritten" in r.stderr
    assert (tmp_path / "o" / "predictions.csv").read_text() == "x\n"


def test_official_layout_checkpoint(images, tmp_path):
    "A released-style fine-tuned ViT (timm-0.4 keys, fc_norm, 14-way head, Namespace args) runs unchanged."
    from cxrvit.vit import official_vit_shapes
    torch.manual_seed(0)
    sd = {k: torch.randn(s) * 0.02 for k, s in official_vit_shapes(D=64, depth=2, patch=8, tokens=65).items()}
    w = tmp_path / "official.pth"
    torch.save({"model": sd, "optimizer": {}, "epoch": 74, "args": argparse.Namespace(input_size=64)}, w)
    r = cli("--weights", w, images / "00000001_000.png", images / "16747_3_1.jpg", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr[-3000:]
    t = pd.read_csv(tmp_path / "o" / "predictions.csv")
    assert list(t.columns[3:]) == ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule",
                                   "Pneumonia", "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis",
                                   "Pleural_Thickening", "Hernia"]
    assert "official" in (tmp_path / "o" / "index.html").read_text()
