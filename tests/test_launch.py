"cxrvit.launch (submitit jobs) and cxrvit.weights (weights by name), run out of process at smoke size, offline."
import json, os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARMS = "ablations/layer_decay/layer_decay=0.[67]5"  # two arms of the grid and their shared pre-training


def cli(*args, timeout=900, env=None):
    return subprocess.run([sys.executable, "-m", "cxrvit.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def _metrics(runs: Path) -> dict:
    return {str(f.parent.relative_to(runs)): json.loads(f.read_text())
            for f in runs.rglob("metrics.json") if "config_hash" in json.loads(f.read_text())}


def test_local_launcher_matches_inline(tmp_path):
    "The smoke sweep of two layer-decay arms through submitit's local executor gives the inline sweep's results."
    a, b = tmp_path / "inline", tmp_path / "local"
    r = cli("run", ARMS, "--smoke", "--set", "epochs=1", "--runs", a)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = cli("run", ARMS, "--smoke", "--set", "epochs=1", "--runs", b, "--launcher", "local")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ma, mb = _metrics(a / "smoke"), _metrics(b / "smoke")
    assert sorted(ma) == sorted(mb) == ["ablations/layer_decay/layer_decay=0.65", "ablations/layer_decay/layer_decay=0.75"]
    for k in ma:  # the same numbers, exactly: same code, parameters, seeds and thread count on one CPU
        assert ma[k]["test"] == mb[k]["test"] and ma[k]["val"] == mb[k]["val"], k
        assert ma[k]["config_hash"] == mb[k]["config_hash"]
    arms = [ma[k]["test"]["mauc"] for k in sorted(ma)]
    assert arms[0] != arms[1], arms  # the arms differ (their fine-tunes are not copies)
    jobs = [json.loads(l) for l in (b / "smoke" / "jobs.jsonl").read_text().splitlines()]
    steps = [j["key"] for j in jobs]
    assert steps.count("table1/vit_s_xray_mae/pretrain") == 1 and len(steps) == 7, steps  # 5 steps + 2 results
    pre = b / "smoke" / "table1/vit_s_xray_mae/pretrain" / "done.json"
    for arm in ("0.65", "0.75"):  # dependency order: each fine-tune started after the pre-training finished
        ft = b / "smoke" / f"ablations/layer_decay/layer_decay={arm}/finetune"
        assert (ft / "data.json").stat().st_mtime >= pre.stat().st_mtime
    st = cli("run", "--status", "--smoke", "--runs", b)
    assert st.returncode == 0 and st.stdout.count("COMPLETED") == 7, st.stdout
    again = cli("run", ARMS, "--smoke", "--set", "epochs=1", "--runs", b, "--launcher", "local")  # nothing left to do
    assert again.returncode == 0 and "nothing to run" in again.stdout, again.stdout


def test_slurm_dry_run_script_of_table1_vit_s():
    "The sbatch scripts --launcher slurm would submit: directives, torchrun, requeue, afterok dependencies."
    r = cli("run", "table1/vit_s_xray_mae", "--launcher", "slurm", "--dry-run", "--slurm", "partition=gpu",
            "account=cxr", "constraint=a100")
    assert r.returncode == 0, r.stderr
    parts = r.stdout.split("# ---- sbatch script of ")
    s = {p.split(" ----")[0]: p for p in parts[1:]}
    assert list(s) == [f"table1/vit_s_xray_mae/{k}" for k in ("pretrain", "finetune", "evaluate", "metrics.json")]
    pre, ft, ev, res = s.values()
    for d in ("--partition=gpu", "--account=cxr", "--constraint=a100", "--requeue", "--signal=USR2@120",
              "--ntasks-per-node=1"):
        assert all(f"#SBATCH {d}" in x for x in (pre, ft, ev, res)), d
    assert "#SBATCH --gpus-per-node=8" in pre and "#SBATCH --time=1440" in pre  # the registry's pre-training default
    assert "torchrun --nnodes=1 --nproc_per_node=8 --rdzv_backend=c10d" in pre and "-m cxrvit.launch" in pre
    assert "torchrun" in ft and "torchrun" not in ev  # evaluation runs as one process
    assert "dependency" not in pre
    assert "#SBATCH --dependency='afterok:<job of table1/vit_s_xray_mae/pretrain>'" in ft
    assert "#SBATCH --dependency='afterok:<job of table1/vit_s_xray_mae/finetune>'" in ev
    assert res.count("<job of") == 3  # the results job waits for every step
    assert "srun" in pre and "submitit.core._submit" in pre and "MASTER_ADDR=$(scontrol show hostnames" in pre
    two = cli("run", "table1/vit_s_xray_mae", "--launcher", "slurm", "--dry-run", "--slurm", "nodes=2")
    assert "torchrun --nnodes=2 --nproc_per_node=8" in two.stdout
    bad = cli("run", "table1/vit_s_xray_mae", "--launcher", "slurm", "--dry-run", "--slurm", "gpus=8")
    assert bad.returncode == 2 and "--slurm gpus=…: unknown key" in bad.stderr, bad.stderr


def test_registry_slurm_key_is_validated(tmp_path):
    from cxrvit.experiments import load_registry
    (tmp_path / "x.yaml").write_text("name: x\ntitle: x\nsteps:\n  - {id: a, notebook: report, slurm: {gpu: 8}}\n")
    with pytest.raises(ValueError, match=r"x.yaml: step 'a': slurm: \['gpu'\]"): load_registry(tmp_path)
    (tmp_path / "x.yaml").write_text("name: x\ntitle: x\nsteps:\n  - {id: a, notebook: report, sluurm: {}}\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['sluurm'\]"): load_registry(tmp_path)


def _torch_cache(d: Path) -> Path:
    "A TORCH_HOME whose hub cache holds a locally made densenet121-a639ec97.pth (torchvision's file name)."
    import torch, torchvision
    f = d / "hub" / "checkpoints" / "densenet121-a639ec97.pth"; f.parent.mkdir(parents=True)
    torch.save(torchvision.models.densenet121().state_dict(), f)
    return f


def test_densenet_imagenet_row_runs_with_weights_by_name_offline(tmp_path):
    "table1/densenet121_imagenet_sup: its default name resolves to the pre-populated cache; no network used."
    env = {"TORCH_HOME": str(tmp_path / "empty"), "CXRVIT_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    r = cli("run", "table1/densenet121_imagenet_sup", "--smoke", "--runs", tmp_path / "r0", env=env)
    assert r.returncode == 1
    assert (f"fetch https://download.pytorch.org/models/densenet121-a639ec97.pth and put it at "
            f"{tmp_path}/empty/hub/checkpoints/densenet121-a639ec97.pth") in r.stdout, r.stdout
    f = _torch_cache(tmp_path / "th")
    env["TORCH_HOME"] = str(tmp_path / "th")
    r = cli("run", "table1/densenet121_imagenet_sup", "--smoke", "--set", "epochs=1", "--runs", tmp_path / "r",
            env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    d = tmp_path / "r" / "smoke" / "table1/densenet121_imagenet_sup"
    assert json.loads((d / "finetune" / "done.json").read_text())["params"]["init"] == str(f)
    assert 0 <= json.loads((d / "metrics.json").read_text())["test"]["mauc"] <= 1


def test_weights_url_checksum_is_checked(tmp_path):
    "An https://…#sha256= name resolves to torch.hub's cached file only when its sha256 matches."
    import hashlib, torch
    f = tmp_path / "hub" / "checkpoints" / "moco_v2.pth.tar"; f.parent.mkdir(parents=True)
    torch.save({"state_dict": {}}, f)
    h = hashlib.sha256(f.read_bytes()).hexdigest()
    code = ("import sys; from cxrvit.weights import resolve_input as r; "
            "print(r(sys.argv[1]))")
    env = {**os.environ, "TORCH_HOME": str(tmp_path), "CXRVIT_OFFLINE": "1"}
    run = lambda name: subprocess.run([sys.executable, "-c", code, name], cwd=ROOT, env=env, capture_output=True, text=True)
    ok = run(f"https://example.org/moco_v2.pth.tar#sha256={h}")
    assert ok.returncode == 0 and ok.stdout.strip() == str(f), ok.stderr
    bad = run("https://example.org/moco_v2.pth.tar#sha256=" + "ab" * 32)
    assert bad.returncode == 1 and f"sha256 mismatch for {f}: expected {'ab' * 32}, the file has {h}" in bad.stderr
