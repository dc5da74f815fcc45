"Process-wide settings cxrvit makes on import: the OpenMP wait policy (bench/omp_wait.py says why) and huge\npages for large CPU tensors (cxrvit/__init__.py)."
import os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _after_import(env, code):
    "What `code` prints in a fresh interpreter with `env`, after `import cxrvit`."
    return subprocess.run([sys.executable, "-c", "import cxrvit, os\n" + code], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.strip()


def _policy_after_import(env):
    return _after_import(env, "print(os.environ.get('OMP_WAIT_POLICY'))")


def test_import_sets_passive_wait_policy():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _policy_after_import(env) == "PASSIVE"


def test_user_setting_wins():
    assert _policy_after_import(dict(os.environ, OMP_WAIT_POLICY="ACTIVE")) == "ACTIVE"


def test_makefile_exports_it_for_processes_that_import_torch_first():
    make = (ROOT / "Makefile").read_text()
    assert "export OMP_WAIT_POLICY ?= PASSIVE" in make


# Transparent huge pages for torch's large CPU tensors (cxrvit/__init__.py says why).
THP_PROBE = """
import torch
x = torch.empty(8 << 20, dtype=torch.uint8)  # 8 MiB: above torch's 2 MiB huge-page threshold
p = x.data_ptr()  # x stays alive: its mapping is read below
inside, flags = False, []
for line in open('/proc/self/smaps'):  # mapping headers 'lo-hi perms …', then fields, then 'VmFlags: …'
    head = line.split()[0]
    if '-' in head and ':' not in head:
        lo, hi = (int(v, 16) for v in head.split('-'))
        inside = lo <= p < hi
    elif head == 'VmFlags:' and inside:
        flags = line.split()[1:]
print('hg' in flags)
"""


def _thp_enabled():
    f = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return f.exists() and "[never]" not in f.read_text()


def test_import_asks_torch_for_huge_pages():
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    assert _after_import(env, "print(os.environ.get('THP_MEM_ALLOC_ENABLE'))") == "1"
    assert "export THP_MEM_ALLOC_ENABLE ?= 1" in (ROOT / "Makefile").read_text()


def test_large_tensors_are_advised_huge_pages_after_import():
    "torch reads the setting at its first large allocation: a tensor made after `import cxrvit` gets it."
    import pytest
    if not Path("/proc/self/smaps").exists() or not _thp_enabled():
        pytest.skip("this kernel has no transparent huge pages (/sys/kernel/mm/transparent_hugepage)")
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    assert _after_import(env, THP_PROBE) == "True", "the 8 MiB tensor's mapping lacks the 'hg' (MADV_HUGEPAGE) flag"
