"""The error contract on damaged inputs: each fault is made on a small NIH-format copy (or a bad recipe, checkpoint,
run folder, signal or write limit) and must end in exit code 2 with ONE line `cxrvit CMD: error: …` naming the
culprit, no traceback, and no file that existed before lost. Most cases call `cxrvit.cli.main` in this process
(one import); signals, `ulimit -f` and the pool-hang case run `python -m cxrvit.cli` / tests/train_job.py."""
import json, os, pickle, resource, shutil, signal, socket, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cxrvit.cli import EXIT_PREEMPTED, main

HERE = Path(__file__).parent
JOB = HERE / "train_job.py"
TINY_FT = ["finetune", "--recipe", "finetune_vit_s_nih_tiny", "--device", "cpu", "--save-every-minutes", "0"]
TINY_PT = ["pretrain", "--recipe", "pretrain_vit_s_tiny", "--device", "cpu", "--save-every-minutes", "0"]


# ---------------------------------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory):
    "Runs, caches and threads of this module stay in a temporary folder and on one core."
    home = tmp_path_factory.mktemp("home")
    old = {k: os.environ.get(k) for k in ("CXRVIT_HOME", "CXRVIT_CACHE", "CXRVIT_MAX_PIXELS")}
    os.environ.update(CXRVIT_HOME=str(home / "runs"), CXRVIT_CACHE=str(home / "cache"))
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
    for k, v in old.items():
        if v is None: os.environ.pop(k, None)
        else: os.environ[k] = v


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    "A clean NIH-format tree: 256 synthetic 64² images, metadata, the three split lists."
    from cxrvit.synth import make_synthetic_nih
    return make_synthetic_nih(tmp_path_factory.mktemp("nih"), n=256, size=64, seed=0, workers=1, progress=False)


def copy_of(base, tmp_path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "nih"))


def snapshot(d: Path) -> dict:
    "Every file under d with its bytes' hash: to prove nothing was changed or lost."
    import hashlib
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*")) if p.is_file()}


def cli(capsys, *args) -> tuple[int, str, str]:
    "Run `cxrvit ARGS` in this process: (exit code, stdout, stderr)."
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def error_line(rc: int, err: str, cmd: str, *needles: str, code: int = 2) -> str:
    "Assert the contract: exit `code`, no traceback, the last stderr line is the error naming every needle."
    assert rc == code, (rc, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    line = [l for l in err.splitlines() if l.strip()][-1]
    assert line.startswith(f"cxrvit {cmd}: error: "), line
    for n in needles: assert str(n) in line, (n, line)
    return line


def sub(args, env_extra=None, timeout=300, preexec_fn=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXRVIT_TEST_")}
    env.update({"OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent), **(env_extra or {})})
    return subprocess.run([sys.executable, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=preexec_fn)


def split_names(root: Path, split: str) -> list[str]:
    return [l.split()[0] for l in (root / f"{split}_official.txt").read_text().splitlines() if l.strip()]


# ------------------------------------------------------------------------------------------ unreadable images
def damage(root: Path, fault: str) -> Path:
    "Apply one image fault to the first train image; return its path."
    p = root / "images" / split_names(root, "train")[0]
    if fault == "truncated": p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    elif fault == "zero_byte": p.write_bytes(b"")
    elif fault == "non_image": p.write_text("this is not a PNG\n")
    return p


@pytest.mark.parametrize("fault", ["truncated", "zero_byte", "non_image", "oversized"])
def test_cache_build_names_the_bad_image(base, tmp_path, capsys, monkeypatch, fault):
    root = copy_of(base, tmp_path); bad = damage(root, fault); before = snapshot(root)
    if fault == "oversized": monkeypatch.setenv("CXRVIT_MAX_PIXELS", "1000")  # every 64² image is over the limit
    rc, out, err = cli(capsys, "cache", "build", "nih", "--root", root, "--out", tmp_path / "cache", "--workers", 1)
    line = error_line(rc, err, "cache", ".png")
    if fault != "oversized": assert str(bad) in line
    else: assert "exceeds the limit of 1,000" in line and "CXRVIT_MAX_PIXELS" in line
    assert snapshot(root) == before


def test_cache_build_with_workers_does_not_hang_on_a_corrupt_png(base, tmp_path):
    root = copy_of(base, tmp_path); bad = damage(root, "truncated")
    r = sub(["-m", "cxrvit.cli", "cache", "build", "nih", "--root", root, "--out", tmp_path / "c", "--workers", 2],
            timeout=180)
    error_line(r.returncode, r.stderr, "cache", bad, "truncated")


def test_training_names_an_unreadable_image(base, tmp_path, capsys):
    root = copy_of(base, tmp_path)
    for n in split_names(root, "train"): (root / "images" / n).write_bytes(b"")  # whichever is drawn first
    rc, out, err = cli(capsys, *TINY_FT, "--data-root", root, "--run-dir", tmp_path / "run")
    error_line(rc, err, "finetune", str(root / "images"), ".png: ")
    assert out == ""  # stdout carries only results


# ---------------------------------------------------------------------------------- split checks before step 1
def split_fault(root: Path, fault: str) -> str:
    "Damage the split lists / tree; return the image name the error must mention."
    tr = (root / "train_official.txt").read_text().splitlines()
    if fault == "missing":
        name = tr[3].split()[0]; (root / "images" / name).unlink()
    elif fault == "duplicated":
        name = tr[3].split()[0]; tr.append(tr[3])
    elif fault == "leaking":  # another image of a test patient, listed in train
        te = (root / "test_official.txt").read_text().splitlines(); first, labels = te[0].split(maxsplit=1)
        name = first.split("_")[0] + "_999.png"; shutil.copy(root / "images" / first, root / "images" / name)
        tr.append(f"{name} {labels}")
    (root / "train_official.txt").write_text("\n".join(tr) + "\n")
    return name


@pytest.mark.parametrize("fault,code", [("missing", "missing_file"), ("duplicated", "duplicate_id"),
                                        ("leaking", "patient_leak")])
def test_split_faults_refused_before_training(base, tmp_path, capsys, fault, code):
    root = copy_of(base, tmp_path); name = split_fault(root, fault)
    rc, out, err = cli(capsys, *TINY_FT, "--data-root", root, "--run-dir", tmp_path / "run")
    error_line(rc, err, "finetune", "data check failed", code, name)
    assert not (tmp_path / "run" / "config.json").exists() and not list((tmp_path / "run").glob("checkpoint*"))


def test_allow_leakage_trains_and_is_recorded(base, tmp_path, capsys):
    root = copy_of(base, tmp_path); split_fault(root, "leaking")
    rc, out, err = cli(capsys, *TINY_FT, "--data-root", root, "--run-dir", tmp_path / "run", "--allow-leakage",
                       "--set", "epochs=1")
    assert rc == 0, err[-2000:]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["allow_leakage"] is True
    assert json.loads(out)["run_dir"] == str(tmp_path / "run")  # stdout: the result JSON only


def test_verify_data_reports_degenerate_and_bit_depth(base, tmp_path, capsys):
    root = copy_of(base, tmp_path); names = split_names(root, "train")
    Image.fromarray(np.zeros((12, 200), np.uint8)).save(root / "images" / names[0])  # degenerate
    a = (np.arange(64 * 64).reshape(64, 64) % 1024).astype(np.uint16)  # 16-bit file using 10 bits
    Image.fromarray(a).save(root / "images" / names[1])
    rc, out, err = cli(capsys, "verify-data", "nih", "--root", root, "--out-dir", tmp_path / "rep")
    assert "degenerate_size" in out and "high_bit_depth" in out  # the console summary
    assert names[0] in out  # a warning line names the file
    rep = json.loads((tmp_path / "rep" / "verify_nih.json").read_text())
    got = {(w["code"], Path(w["file"]).name) for w in rep["warnings"]}
    assert {("degenerate_size", names[0]), ("high_bit_depth", names[1])} <= got
    from cxrvit.images import load_image
    assert np.asarray(load_image(root / "images" / names[1], channels=1)).max() == 255  # scaled by 10 bits


# ------------------------------------------------------------------------------------------------ bad recipes
@pytest.mark.parametrize("setting,field", [("epochs=-1", "epochs"), ("epochs=0", "epochs"), ("mask_ratio=0", "mask_ratio"),
                                           ("mask_ratio=1.0", "mask_ratio"), ("mask_ratio=1.5", "mask_ratio"),
                                           ("batch_per_device=0", "batch_per_device"), ("img_size=60", "img_size"),
                                           ("rrc_scale=0,1", "rrc_scale"), ("blr=-1", "blr"), ("amp=fp8", "amp")])
def test_bad_recipe_values(capsys, tmp_path, setting, field):
    rc, out, err = cli(capsys, *TINY_PT, "--run-dir", tmp_path / "run", "--set", setting)
    error_line(rc, err, "pretrain", f"{field}=", "allowed")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args,needle", [(["--recipe", "nope"], "unknown recipe 'nope'"),
                                         (["--recipe", "pretrain_vit_s_tiny", "--set", "nokey=1"], "unknown recipe key"),
                                         (["--recipe", "pretrain_vit_s_tiny", "--device", "tpu9"], "unknown device"),
                                         (["--recipe", "pretrain_vit_s_tiny", "--device", "cuda"], "no CUDA GPU")])
def test_unknown_names_and_devices(capsys, tmp_path, args, needle):
    if "cuda" in args and torch.cuda.is_available(): pytest.skip("a GPU is present")
    rc, out, err = cli(capsys, "pretrain", *args, "--run-dir", tmp_path / "run")
    error_line(rc, err, "pretrain", needle)


def test_unfinished_cache(capsys, tmp_path):
    c = tmp_path / "cache"; c.mkdir(); (c / "meta.json").write_text(json.dumps({"complete": False}))
    np.save(c / "images.npy", np.zeros((1, 8, 8), np.uint8))
    rc, out, err = cli(capsys, *TINY_FT, "--data-root", c, "--run-dir", tmp_path / "run")
    error_line(rc, err, "finetune", str(c), "unfinished")


def test_a_bug_keeps_its_traceback_and_debug_shows_user_tracebacks(capsys, monkeypatch):
    import cxrvit.cli
    monkeypatch.setattr(cxrvit.cli, "cmd_models", lambda a: None + 1)  # a TypeError: a bug
    with pytest.raises(TypeError): main(["models"])  # the console script prints the traceback, exit 1
    monkeypatch.setenv("CXRVIT_DEBUG", "1")
    rc, out, err = cli(capsys, "recipes", "nope")
    assert rc == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("cxrvit recipes: error: ")


def test_worker_errors_pickle():
    from cxrvit.checkpoint import CheckpointError
    from cxrvit.core import UserError
    from cxrvit.engine import NonFiniteLossError, Preempted
    from cxrvit.images import ImageError
    for e in (ImageError("a.png", "truncated"), CheckpointError("c.pth", "empty file"), UserError("x"),
              NonFiniteLossError(1, 2, float("inf"), None), Preempted("stopped", "c.pth")):
        assert str(pickle.loads(pickle.dumps(e))) == str(e)


def test_non_finite_loss_and_disk_full_are_user_errors():
    import errno
    from cxrvit.cli import _is_user_error, _one_line
    from cxrvit.engine import NonFiniteLossError
    assert _is_user_error(NonFiniteLossError(0, 3, float("nan"), None))
    assert "free disk space" in _one_line(OSError(errno.ENOSPC, "No space left on device", "/r/c.pth"))
    assert not _is_user_error(TypeError("a bug"))


# ------------------------------------------------------------------------------------------- bad checkpoints
@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    from cxrvit.vit import vit_small_patch16
    d = tmp_path_factory.mktemp("ck")
    good = d / "good.pth"; torch.save({"model": {"w": torch.ones(4096)}}, good); data = good.read_bytes()
    (d / "empty.pth").write_bytes(b""); (d / "text.pth").write_text("epoch: 3\nlr: 0.1\n")
    (d / "random.pth").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (d / "truncated.pth").write_bytes(data[: len(data) // 2]); (d / "pickle.pth").write_bytes(pickle.dumps([1, 2]))
    (d / "folder.pth").mkdir()

    class Evil:
        def __reduce__(self): return (os.system, (f"touch {d / 'pwned'}",))
    torch.save({"model": {}, "payload": Evil()}, d / "unsafe.pth")
    torch.save({"model": vit_small_patch16(img_size=64, patch_size=8, embed_dim=64, depth=3, num_heads=2,
                                         global_pool=True).state_dict()},
               d / "other_model.pth")
    return d


@pytest.mark.parametrize("name,case", [("missing", "not found"), ("empty", "empty file"), ("text", "a text file"),
                                       ("random", "unknown format"), ("truncated", "truncated or corrupt"),
                                       ("pickle", "not a checkpoint"), ("folder", "a folder")])
def test_bad_checkpoint_named_with_its_case(ckpts, capsys, name, case):
    rc, out, err = cli(capsys, "inspect-checkpoint", ckpts / f"{name}.pth")
    line = error_line(rc, err, "inspect-checkpoint", ckpts / f"{name}.pth", case)
    assert "allow-list" not in line and "run code" not in line  # the unsafe message only for unsafe content


def test_unsafe_checkpoint_refused(ckpts, capsys):
    rc, out, err = cli(capsys, "inspect-checkpoint", ckpts / "unsafe.pth")
    error_line(rc, err, "inspect-checkpoint", ckpts / "unsafe.pth", "allow-list", "system")
    assert not (ckpts / "pwned").exists()


def test_init_from_another_model(ckpts, base, capsys, tmp_path):
    rc, out, err = cli(capsys, *TINY_FT, "--data-root", base, "--run-dir", tmp_path / "run",
                       "--init", ckpts / "other_model.pth")
    error_line(rc, err, "finetune", ckpts / "other_model.pth", "a checkpoint of another model")
    assert not (tmp_path / "run" / "config.json").exists()  # config.json only after every check passed


# --------------------------------------------------------------------------------------------- owned run folders
@pytest.fixture(scope="module")
def done(base, tmp_path_factory):
    "A finished 1-epoch tiny pre-training run folder (and the command that made it)."
    d = tmp_path_factory.mktemp("done") / "run"
    args = [*TINY_PT, "--data-root", base, "--run-dir", d, "--set", "epochs=1"]
    assert main([str(a) for a in args]) == 0
    return d, args


def test_finished_run_is_not_overwritten(done, capsys):
    d, args = done; before = snapshot(d)
    rc, out, err = cli(capsys, *args)
    error_line(rc, err, "pretrain", d, "--resume auto", "--overwrite")
    assert snapshot(d) == before


def test_resume_with_another_config_is_refused(done, capsys):
    d, args = done; before = snapshot(d)
    rc, out, err = cli(capsys, *args, "blr=0.5", "--resume", "auto")
    error_line(rc, err, "pretrain", "config.json differs", "blr")
    assert snapshot(d) == before


def test_resume_checkpoint_of_another_recipe(done, capsys, tmp_path, base):
    d, _ = done
    rc, out, err = cli(capsys, *TINY_PT, "--data-root", base, "--run-dir", tmp_path / "new", "--set", "epochs=1",
                       "blr=0.5", "--resume", d / "checkpoint-last.pth")
    error_line(rc, err, "pretrain", d / "checkpoint-last.pth", "another recipe", "blr")
    assert not (tmp_path / "new" / "config.json").exists()  # refused before anything was written


@pytest.mark.parametrize("holder", ["live_pid_here", "other_host"])
def test_second_job_on_a_locked_folder(base, capsys, tmp_path, holder):
    d = tmp_path / "run"; d.mkdir()
    who = {"pid": 1, "host": socket.gethostname()} if holder == "live_pid_here" else {"pid": 4242, "host": "node-7"}
    (d / ".lock").write_text(json.dumps(who))
    rc, out, err = cli(capsys, *TINY_PT, "--data-root", base, "--run-dir", d)
    error_line(rc, err, "pretrain", f"in use by PID {who['pid']} on host {who['host']}")
    assert json.loads((d / ".lock").read_text()) == who and sorted(p.name for p in d.iterdir()) == [".lock"]


def test_overwrite_deletes_only_run_files(done, capsys, tmp_path):
    d = Path(shutil.copytree(done[0], tmp_path / "run")); (d / "notes.txt").write_text("mine")
    args = [a if a != done[0] else d for a in done[1]]
    rc, out, err = cli(capsys, *args, "--overwrite")
    assert rc == 0, err[-2000:]
    assert (d / "notes.txt").read_text() == "mine" and (d / "checkpoint-last.pth").exists()
    assert not (d / ".lock").exists()  # released


# ---------------------------------------------------------------------------------- preemption and write limits
@pytest.fixture(scope="module")
def full(base, tmp_path_factory):
    "Weights of an uninterrupted deterministic tiny pre-training run (tests/train_job.py, 2 epochs)."
    d = tmp_path_factory.mktemp("full")
    r = sub([JOB, "pretrain", "--data", base, "--run-dir", d / "run", "--out", d / "w.pt"])
    assert r.returncode == 0, r.stderr[-3000:]
    return torch.load(d / "w.pt")


def test_sigterm_mid_epoch_then_resume_is_exact(base, full, tmp_path):
    run_dir = tmp_path / "run"
    args = [JOB, "pretrain", "--data", base, "--run-dir", run_dir, "--out", tmp_path / "w.pt"]
    r = sub(args, {"CXRVIT_TEST_SIGNAL_AT_STEP": "3"})
    assert r.returncode == EXIT_PREEMPTED, (r.returncode, r.stderr[-3000:])
    assert "SIGTERM received: stopped after optimizer step 3" in r.stderr and not (tmp_path / "w.pt").exists()
    log = [json.loads(l) for l in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [x["global_step"] for x in log if x["kind"] == "preempted"] == [3]
    r = sub(args + ["--resume", "auto"])
    assert r.returncode == 0, r.stderr[-3000:]
    w = torch.load(tmp_path / "w.pt")
    bad = [k for k in full if not torch.equal(full[k], w[k])]
    assert not bad, bad[:3]


def test_cli_preempted_then_write_limit_then_resume(base, tmp_path):
    "SIGUSR1 → exit 75 with checkpoint-last; a resume under `ulimit -f` fails in one line and loses nothing."
    from cxrvit.engine import load_train_state
    d = tmp_path / "run"
    args = ["-m", "cxrvit.cli", *TINY_PT, "--data-root", base, "--run-dir", d]
    r = sub(args, {"CXRVIT_TEST_SIGNAL_AT_STEP": "2:USR1"})
    assert r.returncode == EXIT_PREEMPTED, (r.returncode, r.stderr[-3000:])
    line = [l for l in r.stderr.splitlines() if l.strip()][-1]
    assert line.startswith("cxrvit pretrain: preempted: SIGUSR1 received") and "--resume auto" in line
    assert r.stdout == "" and load_train_state(d / "checkpoint-last.pth")["state"]["global_step"] == 2
    before = snapshot(d)
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # checkpoints are ~1.7 MB
    r = sub([*args, "--resume", "auto"], preexec_fn=limit)
    error_line(r.returncode, r.stderr, "pretrain", "File too large", "ulimit -f", "--resume auto")
    assert not list(d.glob(".*.tmp*")), list(d.iterdir())  # no torn temp file left
    assert load_train_state(d / "checkpoint-last.pth")["state"]["global_step"] == 2  # the last good one is intact
    after = snapshot(d)
    assert all(after.get(k) == v for k, v in before.items() if k != "log.jsonl")  # every earlier file as it was
    r = sub([*args, "--resume", "auto"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)["done"] is True


@pytest.mark.parametrize("setting, needles", [("mask_ratio=1.5", ["step pretrain", "mask_ratio=1.5"]),
                                              ("no_such_field=3", ["--set no_such_field", "recipe field"]),
                                              ("nostep.epochs=1", ["no step 'nostep'"])])
@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "run"])
def test_run_set_errors_stop_the_batch_before_any_step(capsys, tmp_path, setting, needles, dry):
    rc, out, err = cli(capsys, "run", "table1/vit_s_xray_mae", "--smoke", "--runs", tmp_path / "runs",
                       "--set", setting, *(["--dry-run"] if dry else []))
    error_line(rc, err, "run", *needles)
    assert not (tmp_path / "runs").exists(), "nothing may run or be written"


def test_run_set_goes_to_the_steps_whose_recipe_has_the_field(capsys, tmp_path):
    rc, out, err = cli(capsys, "run", "table1/vit_s_xray_mae", "--smoke", "--runs", tmp_path,
                       "--set", "mask_ratio=0.8", "--dry-run")
    assert rc == 0, err
    rows = {l.split()[1]: l for l in out.splitlines() if l.startswith("table1/vit_s_xray_mae ")}
    assert "mask_ratio=0.8" in rows["pretrain"] and "mask_ratio" not in rows["finetune"], rows


def test_demo_with_a_missing_data_root_says_only_the_error(capsys, tmp_path):
    "`make demo DATA=/typo`: one error line naming the folder, exit 2, and no banner claiming its NIH images."
    rc, out, err = cli(capsys, "demo", "--data-root", tmp_path / "typo", "--out", tmp_path / "runs")
    error_line(rc, err, "demo", tmp_path / "typo")
    assert "NIH images of" not in out, out
    assert not (tmp_path / "runs").exists()
