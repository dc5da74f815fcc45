"""Data-layer checks that need separate processes: DataLoader workers must report skipped files via the skip log."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from cxrvit.data import NIH_LABELS, NIHDataset, verify_data


def _tree(root: Path, n: int = 8) -> Path:
    "Flat NIH-format tree: n 32x32 PNGs of n patients; the last one in test_official.txt, the others in train."
    (root / "images").mkdir(parents=True)
    rng, lines, meta = np.random.default_rng(0), [], []
    for p in range(1, n + 1):
        name = f"{p:08d}_000.png"
        Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(root / "images" / name)
        lines.append(name + " " + " ".join(["0"] * 14)); meta.append(f"{name},No Finding,{p}")
    (root / "train_official.txt").write_text("\n".join(lines[:-1]) + "\n")
    (root / "test_official.txt").write_text(lines[-1] + "\n")  # no val list: the paper never reads it
    (root / "Data_Entry_2017.csv").write_text("Image Index,Finding Labels,Patient ID\n" + "\n".join(meta) + "\n")
    return root


def test_workers_write_skipped_files_to_log(tmp_path):
    root = _tree(tmp_path / "nih")
    bad = root / "images" / "00000003_000.png"; bad.write_bytes(bad.read_bytes()[:40])  # truncated
    log = tmp_path / "skips.jsonl"
    ds = NIHDataset(root, "train", on_error="skip", skip_log=log)
    with pytest.warns(UserWarning, match="00000003_000.png"):  # the warning fires in the main process too
        ds[2]
    log.unlink()
    ids = [i for _, _, b in DataLoader(ds, batch_size=4, num_workers=2) for i in b]
    assert len(ids) == 7 and "00000003_000.png" not in ids
    recs = [json.loads(l) for l in log.read_text().splitlines()]
    assert [r["image"] for r in recs] == ["00000003_000.png"] and recs[0]["error"]


def test_raise_in_worker_names_file(tmp_path):
    root = _tree(tmp_path / "nih"); (root / "images" / "00000005_000.png").unlink()
    with pytest.raises(Exception, match="00000005_000.png"):
        list(DataLoader(NIHDataset(root, "train"), batch_size=4, num_workers=2))


def test_verify_data_reports(tmp_path):
    root = _tree(tmp_path / "nih")
    rep = verify_data("nih", root, out_dir=tmp_path / "rep", workers=2)
    assert rep["ok"] and [w['code'] for w in rep['warnings']].count('split_missing') == 1 and (tmp_path / "rep" / "verify_nih.json").exists()
    batch = next(iter(DataLoader(NIHDataset(root, "train"), batch_size=7)))
    assert batch[0].shape == (7, 3, 32, 32) and batch[1].shape == (7, len(NIH_LABELS)) and batch[1].dtype == torch.float32
