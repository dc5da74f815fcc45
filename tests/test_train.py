"""Out-of-process tests of the training engine: exact resume after SIGKILL, a kill during a checkpoint write,
and torchrun (2 CPU processes, gloo) against one process with the same global batch."""
import json, os, signal, socket, subprocess, sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent
JOB = HERE / "train_job.py"


def run(args, env_extra=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXRVIT_TEST_")}
    env.update({"OMP_NUM_THREADS": "1", **(env_extra or {})})
    return subprocess.run([sys.executable, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from cxrvit.synth import make_synthetic_nih
    return make_synthetic_nih(tmp_path_factory.mktemp("synth"), n=384, size=64, seed=0, workers=1, progress=False)


@pytest.fixture(scope="module")
def full(synth, tmp_path_factory):
    "Weights of an uninterrupted tiny pre-training run (2 epochs, 16 steps)."
    d = tmp_path_factory.mktemp("full")
    r = run([JOB, "pretrain", "--data", synth, "--run-dir", d / "run", "--out", d / "w.pt"])
    assert r.returncode == 0, r.stderr[-3000:]
    return torch.load(d / "w.pt")


def same(a, b):
    assert a.keys() == b.keys()
    bad = [k for k in a if not torch.equal(a[k], b[k])]
    assert not bad, f"{len(bad)} tensors differ, e.g. {bad[:3]}: max diff {max((a[k]-b[k]).abs().max().item() for k in bad)}"


@pytest.mark.parametrize("kill_at", [5, 11])
def test_sigkill_then_resume_is_exact(synth, full, tmp_path, kill_at):
    run_dir = tmp_path / "run"
    args = [JOB, "pretrain", "--data", synth, "--run-dir", run_dir, "--out", tmp_path / "w.pt", "--save-every-steps", 3]
    r = run(args, {"CXRVIT_TEST_KILL_AT_STEP": str(kill_at)})
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr[-3000:])
    assert not (tmp_path / "w.pt").exists()
    r = run(args + ["--resume", "auto"])
    assert r.returncode == 0, r.stderr[-3000:]
    log = [json.loads(l) for l in (run_dir / "log.jsonl").read_text().splitlines()]
    res = [x for x in log if x["kind"] == "resume"]
    assert len(res) == 1 and 0 < res[0]["global_step"] <= kill_at
    same(full, torch.load(tmp_path / "w.pt"))


def test_kill_during_checkpoint_write_keeps_last_good(synth, full, tmp_path):
    from cxrvit.engine import load_train_state
    run_dir = tmp_path / "run"
    args = [JOB, "pretrain", "--data", synth, "--run-dir", run_dir, "--out", tmp_path / "w.pt", "--save-every-steps", 3]
    r = run(args, {"CXRVIT_TEST_KILL_IN_SAVE": "2"})  # the 2nd save (step 6) dies half-way through its temp file
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr[-3000:])
    tmp = list(run_dir.glob(".checkpoint-last.pth.tmp*"))
    assert len(tmp) == 1 and tmp[0].stat().st_size > 0  # the torn write is there ...
    with pytest.raises(Exception): torch.load(tmp[0], weights_only=False)
    ck = load_train_state(run_dir / "checkpoint-last.pth")  # ... and the previous checkpoint is intact
    assert ck["state"]["global_step"] == 3
    r = run(args + ["--resume", "auto"])
    assert r.returncode == 0, r.stderr[-3000:]
    same(full, torch.load(tmp_path / "w.pt"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def test_torchrun_two_processes_match_one(tmp_path):
    one = run([JOB, "ddp", "--run-dir", tmp_path / "one", "--out", tmp_path / "one.pt", "--batch-per-device", 16])
    assert one.returncode == 0, one.stderr[-3000:]
    two = run(["-m", "torch.distributed.run", "--nnodes", 1, "--nproc_per_node", 2, "--master_addr", "127.0.0.1",
               "--master_port", free_port(), JOB, "ddp", "--run-dir", tmp_path / "two", "--out", tmp_path / "two.pt",
               "--batch-per-device", 8], timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    la, lb = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert len(la) == len(lb) == 8
    assert max(abs(x - y) for x, y in zip(la, lb)) < 1e-5, (la, lb)
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    assert diff < 1e-5, diff
    w0 = torch.load(tmp_path / "one.init.pt")  # the weights did move: the comparison is not vacuous
    assert max((a[k] - w0[k]).abs().max().item() for k in a) > 1e-3
    print(f"torchrun 2×8 vs 1×16: max weight diff {diff:.2e}, max loss diff {max(abs(x - y) for x, y in zip(la, lb)):.2e}")
