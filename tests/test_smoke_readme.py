"""Every real-data command of the README runs verbatim on a synthetic data home in the real layouts, with only
these changes: /data → the test's home (and torch.hub's cache holding a locally made DenseNet-121 file for the
row that names torchvision's weights), --device cuda → cpu, --smoke added to `cxrvit run` commands that would
train at full size, outputs (--runs, DEMO_ARGS=--out) redirected into the test's folder."""
import os, re, shlex, shutil, subprocess, sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    "The lines of the README's ```sh blocks that use real data (cxrvit commands and `make demo DATA=`)."
    text = (ROOT / "README.md").read_text()
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            cmd = line.split("  #")[0].strip()
            if cmd.startswith(".venv/bin/cxrvit") or cmd.startswith("make demo DATA="): out.append(cmd)
    return out


def adapt(cmd: str, home: Path, w: dict, tmp: Path, runs: Path) -> list[str]:
    cmd = cmd.replace("/w/densenet121-a639ec97.pth", str(w["densenet"])).replace("/data", str(home))
    args = shlex.split(cmd)
    if args[0] == "make": return [*args, f"DEMO_ARGS=--out {tmp / 'demo_runs'}"]
    args[0] = str(ROOT / ".venv" / "bin" / "cxrvit") if (ROOT / ".venv/bin/cxrvit").exists() else "cxrvit"
    args = ["cpu" if a == "cuda" else a for a in args]
    if args[1] in ("run", "results"): args += ["--runs", str(runs)]
    if args[1] == "run" and not {"--list", "--dry-run"} & set(args): args.append("--smoke")
    if args[1] == "results": args.append("--smoke")
    return args


def test_readme_has_the_real_data_commands():
    cmds = readme_commands()
    assert any("verify-data" in c for c in cmds) and any(c.startswith("make demo DATA=") for c in cmds)
    assert sum("cxrvit run" in c for c in cmds) >= 4, cmds


def test_readme_commands_run_on_a_real_layout(world, tmp_path):
    "Shares the session's data home and runs folder: entries the registry test ran are skipped by config hash."
    home, w, env = world["home"], world["w"], {**os.environ, **world["env"]}
    hub = tmp_path / "torch" / "hub" / "checkpoints"; hub.mkdir(parents=True)  # rows that name torchvision weights
    shutil.copy(w["densenet"], hub / "densenet121-a639ec97.pth")  # find them in torch.hub's cache, as offline
    env.update(TORCH_HOME=str(tmp_path / "torch"), CXRVIT_OFFLINE="1", HF_HUB_OFFLINE="1")
    for cmd in readme_commands():
        args = adapt(cmd, home, w, tmp_path, world["runs"])
        r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800)
        assert r.returncode == 0, f"{cmd}\n→ {shlex.join(args)}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        if args[0] == "make":  # the demo on real images must not call them synthetic
            assert "not synthetic data" in r.stdout and "synthetic chest X-rays" not in r.stdout, r.stdout[:800]
    assert (home / "reports" / "verify_nih.json").exists() and (home / "nih_cache" / "meta.json").exists()
    assert (tmp_path / "demo_runs" / "demo" / "report.html").exists()
