"""Synthetic data and cache checks that need other processes: worker pools, the CLI, a build killed mid-way."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import numpy as np

from cxrvit.cache import CachedNIHDataset, build_cache
from cxrvit.data import NIHDataset
from cxrvit.synth import make_synthetic_nih

CLI = [sys.executable, "-m", "cxrvit.cli"]


def _same_tree(a: Path, b: Path):
    fa = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert fa == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for f in fa: assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_synth_same_bytes_with_any_worker_count(tmp_path):
    a = make_synthetic_nih(tmp_path / "w1", n=24, size=64, seed=3, workers=1, progress=False)
    b = make_synthetic_nih(tmp_path / "w2", n=24, size=64, seed=3, workers=2, progress=False)
    _same_tree(a, b)


def test_cli_synth_then_cache_build(tmp_path):
    src, cache = tmp_path / "syn", tmp_path / "cache"
    subprocess.run(CLI + ["synth", "--n", "24", "--size", "64", "--out", str(src), "--workers", "2"], check=True)
    subprocess.run(CLI + ["cache", "build", "nih", "--root", str(src), "--out", str(cache), "--size", "64",
                          "--workers", "2"], check=True)
    ref = build_cache("nih", src, tmp_path / "ref", size=64, workers=1, progress=False)
    assert (cache / "images.npy").read_bytes() == (ref / "images.npy").read_bytes()
    ds, files = CachedNIHDataset(cache, "test"), NIHDataset(src, "test")
    assert ds.table["image"].tolist() == files.table["image"].tolist()
    assert all((ds[i][0] == files[i][0]).all() for i in range(len(ds)))


def test_cache_resumes_after_kill(tmp_path):
    src = make_synthetic_nih(tmp_path / "syn", n=150, size=256, seed=0, progress=False)
    out = tmp_path / "cache"
    code = f"from cxrvit.cache import build_cache; build_cache('nih', {str(src)!r}, {str(out)!r}, size=128, workers=1, progress=False, commit_every=5)"
    p = subprocess.Popen([sys.executable, "-c", code])
    try:
        t0 = time.time()
        while time.time() - t0 < 120 and p.poll() is None:
            prog = out / "progress.jsonl"
            if prog.exists() and prog.read_text().count("\n") >= 1: break
            time.sleep(0.05)
        assert p.poll() is None, "the build finished before it could be interrupted; raise n"
        os.kill(p.pid, signal.SIGKILL); p.wait()
    finally:
        if p.poll() is None: p.kill()
    n_done = (out / "progress.jsonl").read_text().count("\n")
    assert 0 < n_done < 150 and not json.loads((out / "meta.json").read_text())["complete"]
    build_cache("nih", src, out, size=128, workers=2, progress=False)
    ref = build_cache("nih", src, tmp_path / "ref", size=128, workers=2, progress=False)
    assert (out / "images.npy").read_bytes() == (ref / "images.npy").read_bytes()
    assert (out / "index.csv").read_text() == (ref / "index.csv").read_text()
