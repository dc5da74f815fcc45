"""Two gloo ranks draw different augmentations, and each reproduces its own draws when resumed mid-epoch."""
import json, os, socket, subprocess, sys
from pathlib import Path

HERE = Path(__file__).parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def test_ranks_draw_distinct_crops_and_resume_exactly(tmp_path):
    from cxrvit.cache import build_cache
    from cxrvit.synth import make_synthetic_nih
    src = make_synthetic_nih(tmp_path / "nih", n=48, size=64, seed=0, workers=1, progress=False)
    cache = build_cache("nih", src, tmp_path / "cache", size=64, workers=1, progress=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXRVIT_TEST_")}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
                        "--master_addr", "127.0.0.1", "--master_port", str(free_port()), str(HERE / "input_job.py"),
                        "--data", str(cache), "--out", str(tmp_path / "draws.json")],
                       env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    r0, r1 = json.loads((tmp_path / "draws.json").read_text())
    a, b = r0["loader"]["full"], r1["loader"]["full"]
    assert len(a) == len(b) == 16
    assert sum(x == y for x, y in zip(a, b)) <= 1, "ranks drew the same crops"  # chance agreement at most once
    assert r0["loader"]["resumed_tail"] == a[8:] and r1["loader"]["resumed_tail"] == b[8:]
    c0, c1 = r0["device"]["first"], r1["device"]["first"]  # the crops of each rank's first batch
    assert len(c0) == 4 and sum(x == y for x, y in zip(c0, c1)) == 0
    assert r0["device"]["resumed_equal"] and r1["device"]["resumed_equal"]


def test_cli_cache_build_two_sizes_in_one_pass(tmp_path):
    from cxrvit.cache import build_cache
    from cxrvit.synth import make_synthetic_nih
    src = make_synthetic_nih(tmp_path / "syn", n=16, size=96, seed=1, workers=1, progress=False)
    r = subprocess.run([sys.executable, "-m", "cxrvit.cli", "cache", "build", "nih", "--root", str(src), "--out",
                        str(tmp_path / "c"), "--size", "32", "64", "--workers", "1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    for s in (32, 64):
        ref = build_cache("nih", src, tmp_path / f"ref{s}", size=s, workers=1, progress=False)
        assert (tmp_path / "c" / str(s) / "images.npy").read_bytes() == (ref / "images.npy").read_bytes()
        assert json.loads((tmp_path / "c" / str(s) / "meta.json").read_text())["complete"]
