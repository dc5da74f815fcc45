"""Out-of-process tests of MoCo v2 pre-training (cxrvit.moco): exact resume after SIGKILL (queue, pointer and key
encoder included), torchrun (2 CPU processes, gloo, shuffle-BN across ranks) against one process emulating two
devices, and the CLI path pretrain → fine-tune from the MoCo checkpoint."""
import json, os, signal, socket, subprocess, sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent
ROOT = HERE.parent
JOB = HERE / "moco_job.py"


def run(args, env_extra=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXRVIT_TEST_")}
    env.update({"OMP_NUM_THREADS": "1", **(env_extra or {})})
    return subprocess.run([sys.executable, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from cxrvit.synth import make_synthetic_nih
    return make_synthetic_nih(tmp_path_factory.mktemp("synth"), n=160, size=64, seed=0, workers=1, progress=False)


@pytest.fixture(scope="module")
def full(synth, tmp_path_factory):
    "MoCo state of an uninterrupted run (2 epochs through the two-view augmentation)."
    d = tmp_path_factory.mktemp("full")
    r = run([JOB, "resume", "--data", synth, "--run-dir", d / "run", "--out", d / "w.pt"])
    assert r.returncode == 0, r.stderr[-3000:]
    return torch.load(d / "w.pt")


def same(a, b, keys=None):
    keys = keys or list(a)
    assert set(a) == set(b)
    bad = [k for k in keys if not torch.equal(a[k], b[k])]
    assert not bad, f"{len(bad)} tensors differ, e.g. {bad[:3]}"


@pytest.mark.parametrize("kill_at", [5, 10])
def test_sigkill_then_resume_is_exact(synth, full, tmp_path, kill_at):
    run_dir = tmp_path / "run"
    args = [JOB, "resume", "--data", synth, "--run-dir", run_dir, "--out", tmp_path / "w.pt", "--save-every-steps", 3]
    r = run(args, {"CXRVIT_TEST_KILL_AT_STEP": str(kill_at)})
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr[-3000:])
    r = run(args + ["--resume", "auto"])
    assert r.returncode == 0, r.stderr[-3000:]
    log = [json.loads(l) for l in (run_dir / "log.jsonl").read_text().splitlines()]
    res = [x for x in log if x["kind"] == "resume"]
    assert len(res) == 1 and 0 < res[0]["global_step"] <= kill_at
    got = torch.load(tmp_path / "w.pt")
    same(full, got)  # query and key encoders, BatchNorm statistics, queue, pointer, step counter
    assert int(got["queue_steps"]) == 14 and int(got["queue_ptr"]) == 14 * 16 % 40


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def test_torchrun_two_processes_match_one(tmp_path):
    "2 ranks × 8 (shuffle-BN across ranks, keys gathered) = 1 process × 16 with bn_splits=2; bn_splits=1 is not."
    def one(name, splits):
        r = run([JOB, "ddp", "--run-dir", tmp_path / name, "--out", tmp_path / f"{name}.pt", "--batch-per-device", 16,
                 "--bn-splits", splits])
        assert r.returncode == 0, r.stderr[-3000:]
        return torch.load(tmp_path / f"{name}.pt"), json.loads((tmp_path / f"{name}.json").read_text())
    (a, la), (c, lc) = one("one", 2), one("plain", 1)
    two = run(["-m", "torch.distributed.run", "--nnodes", 1, "--nproc_per_node", 2, "--master_addr", "127.0.0.1",
               "--master_port", free_port(), JOB, "ddp", "--run-dir", tmp_path / "two", "--out", tmp_path / "two.pt",
               "--batch-per-device", 8, "--bn-splits", 1], timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    b, lb = torch.load(tmp_path / "two.pt"), json.loads((tmp_path / "two.json").read_text())
    # BatchNorm running averages differ by design (DDP keeps rank 0's, split BN the mean of the blocks)
    keys = [k for k in a if not k.endswith(("running_mean", "running_var"))]
    diff = lambda x, y: max((x[k].float() - y[k].float()).abs().max().item() for k in keys)
    assert len(la) == len(lb) == 8
    assert max(abs(x - y) for x, y in zip(la, lb)) < 1e-4, (la, lb)
    assert diff(a, b) < 1e-4, diff(a, b)
    assert torch.equal(a["queue_ptr"], b["queue_ptr"]) and int(a["queue_steps"]) == 8
    w0 = torch.load(tmp_path / "one.init.pt")
    assert diff(a, w0) > 1e-3  # the weights and the queue did move: the comparison is not vacuous
    assert max(abs(x - y) for x, y in zip(lc, lb)) > 1e-3  # one BatchNorm batch of 16 is a different run
    print(f"torchrun 2×8 vs 1×16 (bn_splits 2): max diff {diff(a, b):.2e}; losses {[round(x, 4) for x in lb]}")


def test_cli_moco_pretrain_then_finetune_from_it(tmp_path):
    "`cxrvit pretrain` runs a MoCo recipe; its checkpoint initialises `cxrvit finetune` with every backbone key."
    env = {**os.environ, "CXRVIT_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    cli = lambda *a: subprocess.run([sys.executable, "-m", "cxrvit.cli", *map(str, a)], cwd=ROOT, env=env,
                                    capture_output=True, text=True, timeout=600)
    pre = tmp_path / "moco"
    r = cli("pretrain", "--recipe", "MOCO_DENSENET121_TINY", "--set", "epochs=1", "queue_size=64", "--n-synthetic", 96,
            "--run-dir", pre, "--device", "cpu")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((pre / "result.json").read_text())
    assert res["done"] and (pre / "encoder.pth").exists()
    from cxrvit.checkpoint import load_cnn_weights
    from cxrvit.cnn import densenet121
    for src in (pre / "checkpoint-last.pth", pre / "encoder.pth"):
        m = densenet121(num_classes=14); rep = load_cnn_weights(m, src)
        assert sorted(rep.missing) == ["classifier.bias", "classifier.weight"], rep.missing
    r = cli("finetune", "--recipe", "FINETUNE_DENSENET121_NIH_TINY", "--set", "epochs=1", "--n-synthetic", 96,
            "--init", pre / "checkpoint-last.pth", "--run-dir", tmp_path / "ft", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-3000:]
    r = cli("pretrain", "--recipe", "MOCO_DENSENET121_TINY", "--set", "queue_size=-1", "--run-dir", tmp_path / "x")
    assert r.returncode == 2 and "queue_size" in r.stderr, r.stderr[-2000:]
