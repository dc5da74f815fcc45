import os as _os

# OpenMP's default makes idle threads spin; when other processes share the cores (a laptop, a CI runner, a
# busy login node) each parallel region then waits for descheduled spinners, and CPU training runs 10-20x
# slower (bench/omp_wait.py). Sleeping waiters cost little on an idle machine. A user's own setting wins;
# it must be set before torch loads OpenMP, hence here and in the Makefile.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
