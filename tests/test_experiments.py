"The papermill experiment notebooks, the batch runner and the CLI, run out of process at smoke size."
import json, os, subprocess, sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = sorted((ROOT / "nbs" / "experiments").glob("*.ipynb"))


def cli(*args, timeout=600, env=None):
    return subprocess.run([sys.executable, "-m", "cxrvit.cli", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_there_are_four_experiment_notebooks():
    assert {p.stem for p in NBS} == {"pretrain", "finetune", "evaluate", "report"}


@pytest.mark.parametrize("nb", NBS, ids=lambda p: p.stem)
def test_exactly_one_parameters_cell_first(nb):
    cells = [c for c in nbformat.read(nb, 4).cells if c.cell_type == "code"]
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [0], f"{nb.name}: the parameters cell must be the first code cell and the only one tagged; got {tagged}"
    src = cells[0].source
    assert "import" not in src and "(" not in src.split("#")[0], f"{nb.name}: parameters must be plain literals"


def test_smoke_pipeline_runs_every_notebook(tmp_path):
    "pretrain → finetune → evaluate → report through papermill at smoke size, as the registry runs them."
    from cxrvit.experiments import Experiment, Step, run_experiment
    syn = {"synth_n": 160, "synth_size": 64}
    exp = Experiment("smoke/all", "smoke", [
        Step("pretrain", "pretrain", {"recipe": "PRETRAIN_VIT_S_TINY", "overrides": ["epochs=1"], **syn}),
        Step("finetune", "finetune", {"recipe": "FINETUNE_VIT_S_NIH_TINY", "overrides": ["epochs=1"],
                                      "init": "{steps.pretrain}/checkpoint-last.pth", **syn}),
        Step("evaluate", "evaluate", {"finetune_dir": "{steps.finetune}", "n_boot": 20, **syn}),
        Step("report", "report", {"runs": {"mae": "{steps.evaluate}", "again": "{steps.evaluate}"}, "pretrain_dir": "{steps.pretrain}", "n_boot": 20})])
    os.environ["CXRVIT_CACHE"] = str(tmp_path / "cache")
    try: res = run_experiment(exp, runs_root=tmp_path / "runs", log=print)
    finally: os.environ.pop("CXRVIT_CACHE")
    d = tmp_path / "runs" / "smoke" / "all"
    failed = list(d.rglob("failed.json"))
    assert res["status"] == "done", failed and failed[0].read_text()
    m = json.loads((d / "metrics.json").read_text())
    assert 0 <= m["test"]["mauc"] <= 1 and len(m["test"]["auc"]) == 14
    assert m["comparisons"]["again"]["mauc_diff"] == 0  # a run compared with itself
    for step in ("pretrain", "finetune", "evaluate", "report"):
        assert (d / step / f"{step}.ipynb").exists() and (d / step / "env.json").exists() or step in ("evaluate", "report")
    assert (d / "evaluate" / "predictions_test.csv.gz").exists()
    assert (d / "report" / "report.html").stat().st_size > 10_000


def test_cli_lists_and_dry_runs_table1():
    r = cli("run", "table1", "--dry-run")
    assert r.returncode == 0, r.stderr
    rows = {l.split()[0] for l in r.stdout.splitlines()[1:] if l.strip()}
    assert len(rows) == 10, rows
    assert "pretrain_vit_s" in r.stdout and "finetune_densenet121_nih" in r.stdout
    assert cli("run", "--list").stdout.count("table1/") == 10


def test_cli_user_errors_exit_2():
    r = cli("run", "no_such_experiment")
    assert r.returncode == 2 and "no experiment matches" in r.stderr
    r = cli("run", "table1/resnet50_imagenet_byol")  # needs weights the user must supply (no default)
    assert r.returncode == 1 and "needs --input weights=PATH" in r.stdout + r.stderr


def test_cli_synth_and_verify_data(tmp_path):
    r = cli("synth", "--n", 24, "--size", 64, "--out", tmp_path / "syn", "--workers", 1)
    assert r.returncode == 0, r.stderr
    r = cli("verify-data", "nih", "--root", tmp_path / "syn", "--out-dir", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "verify_nih.json").exists()
    victim = sorted((tmp_path / "syn" / "images").glob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:100])  # truncate one image
    r = cli("verify-data", "nih", "--root", tmp_path / "syn", "--out-dir", tmp_path)
    assert r.returncode == 1 and victim.name in r.stdout, r.stdout


def test_cli_pretrain_then_finetune(tmp_path):
    "The training sub-commands end to end on a tiny synthetic set: pre-train, then fine-tune from that checkpoint."
    env = {"CXRVIT_CACHE": str(tmp_path / "cache")}
    r = cli("pretrain", "--recipe", "pretrain_vit_s_tiny", "--set", "epochs=1", "--run-dir", tmp_path / "pre",
            "--n-synthetic", 96, "--device", "cpu", env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (tmp_path / "pre" / "checkpoint-last.pth").exists()
    r = cli("finetune", "--recipe", "finetune_vit_s_nih_tiny", "--set", "epochs=1", "--run-dir", tmp_path / "ft",
            "--init", tmp_path / "pre" / "checkpoint-last.pth", "--n-synthetic", 96, "--device", "cpu", env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(r.stdout[r.stdout.index("{"):])
    assert res["evaluations"] >= 1 and "paper_protocol" in res
    r = cli("finetune", "--recipe", "no_such_recipe", env=env)
    assert r.returncode == 2 and "no_such_recipe" in r.stderr


def test_cli_trains_from_a_cache(tmp_path):
    "`--data-root` may name a cache built by `cxrvit cache build`: the jobs read its rows instead of the PNGs."
    assert cli("synth", "--n", 120, "--size", 64, "--out", tmp_path / "syn", "--workers", 1).returncode == 0
    r = cli("cache", "build", "nih", "--root", tmp_path / "syn", "--out", tmp_path / "cache", "--size", 64, "--workers", 1)
    assert r.returncode == 0, r.stderr[-2000:]
    r = cli("finetune", "--recipe", "finetune_vit_s_nih_tiny", "--set", "epochs=1", "--data-root", tmp_path / "cache",
            "--run-dir", tmp_path / "ft", "--device", "cpu")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    cfg = json.loads((tmp_path / "ft" / "result.json").read_text())
    assert cfg["evaluations"] >= 1
