import os as _os

# OpenMP's default makes idle threads spin; when other processes share the cores (a laptop, a CI runner, a
# busy login node) each parallel region then waits for descheduled spinners, and CPU training runs 10-20x
# slower (bench/omp_wait.py). Sleeping waiters cost little on an idle machine. A user's own setting wins;
# it must be set before torch loads OpenMP, hence here and in the Makefile.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# torch's CPU allocator backs tensors of 2 MiB and more with transparent huge pages when this is set (read at
# its first such allocation, so setting it here works even after `import torch`). Each fresh 4 KiB page costs a
# page fault on first touch; a [256, 224, 224] float batch is 12,544 of them, and on a virtual machine they made
# the uint8 -> float conversion of a batch 5x slower (bench/RESULTS.md). A user's own setting wins.
_os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

__version__ = "0.1.0"

# timm imports huggingface_hub, which imports tqdm.auto; in a Jupyter kernel without ipywidgets that prints a
# TqdmWarning ("IProgress not found") at the top of every experiment notebook and report.html. cxrvit's own
# progress bars are plain tqdm on stderr, so the widget fallback it warns about never matters here.
import warnings as _warnings
_warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm")
