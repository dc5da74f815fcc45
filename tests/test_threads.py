"The OpenMP wait policy cxrvit sets (see cxrvit/__init__.py and bench/omp_wait.py for why)."
import os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _policy_after_import(env):
    code = "import cxrvit, os; print(os.environ.get('OMP_WAIT_POLICY'))"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_import_sets_passive_wait_policy():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _policy_after_import(env) == "PASSIVE"


def test_user_setting_wins():
    assert _policy_after_import(dict(os.environ, OMP_WAIT_POLICY="ACTIVE")) == "ACTIVE"


def test_makefile_exports_it_for_processes_that_import_torch_first():
    make = (ROOT / "Makefile").read_text()
    assert "export OMP_WAIT_POLICY ?= PASSIVE" in make
