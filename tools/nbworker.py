"""Worker for tools/test_all.py: runs one notebook with nbdev's test runner. A module of its own, because a notebook
run replaces `__main__` in the worker process, after which functions of the calling script can no longer be found."""
import os, time
from pathlib import Path


def run_nb(fn: str, flags: list, threads: int):
    "Execute notebook `fn` (cells flagged in `flags` included); return (ok, seconds)."
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch; torch.set_num_threads(threads)
    from nbdev.config import get_config
    from nbdev.test import test_nb
    skip = get_config().tst_flags.split()
    t0 = time.time()
    ok, _ = test_nb(Path(fn), skip_flags=[f for f in skip if f not in flags], force_flags=flags, showerr=True)
    return ok, time.time() - t0
