"""`make nbs`: execute the library notebooks in place and save their outputs, the way `nbdev_test` runs them.

Each notebook runs in a fresh process, in execnb's `CaptureShell` with the notebook's folder as working directory
and IN_TEST=1 (as nbdev_test). Cells flagged with a `tst_flags` directive of settings.ini (`#| slow`, `#| cuda`),
`#| eval: false` cells and the `nbdev_export()` cell are not run and keep no output. Matplotlib figures are
saved as PNG outputs (not retina); plotly figures as their JSON alone (no copy of plotly.js). Then `nbdev_clean` drops execution counts and metadata; outputs stay
(settings.ini `clear_all = False`). A notebook whose run fails is left as it was.

    python tools/run_nbs.py                       # every teaching notebook
    python tools/run_nbs.py nbs/11_mae.ipynb ...  # some of them (make nbs NBS="nbs/11_mae.ipynb")

Teaching notebooks: nbs/**/*.ipynb except nbs/experiments/ (papermill templates, kept output-free), names
starting with `_` or `.`, and notebooks without code cells (index.ipynb today). SIZE_CAP / SIZE_CAPS below are
the size limits tests/test_foundation.py holds them to.
"""
import argparse, json, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"

SIZE_CAP = 150_000  # bytes, a notebook with its saved outputs
SIZE_CAPS = {       # the named exceptions, relative to nbs/, each with its reason
    "00_tour.ipynb": 250_000,    # the paper's story told in pictures: several figures on one page
    "11_mae.ipynb": 200_000,     # masking and reconstruction figures beside ~25 saved API entries (156 KB)
    "32_figures.ipynb": 250_000,  # the figure library: every figure function shows its figure
}


def size_cap(rel) -> int:
    "The size cap of notebook `rel` (a path relative to nbs/)."
    return SIZE_CAPS.get(Path(rel).as_posix(), SIZE_CAP)


def has_code(nb: dict) -> bool:
    return any(c["cell_type"] == "code" and "".join(c["source"]).strip() for c in nb["cells"])


def teaching_notebooks(nbs=NBS):
    "The notebooks whose outputs are saved (see the module docstring)."
    out = []
    for p in sorted(Path(nbs).rglob("*.ipynb")):
        rel = p.relative_to(nbs)
        if rel.parts[0] == "experiments" or any(s.startswith(("_", ".")) for s in rel.parts): continue
        if has_code(json.loads(p.read_text(encoding="utf-8"))): out.append(p)
    return out


def n_outputs(nb: dict) -> int:
    return sum(bool(c.get("outputs")) for c in nb["cells"] if c["cell_type"] == "code")


def run_one(fn: Path) -> None:
    "Execute notebook `fn` in this process and save it with its outputs (raises on a failing cell)."
    from execnb.nbio import write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.clean import nbdev_clean
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    os.environ["IN_TEST"] = "1"
    os.environ.setdefault("PLOTLY_RENDERER", "plotly_mimetype")  # figure JSON only, not 5 MB of plotly.js
    flags = set(get_config().tst_flags.split())
    nb = NBProcessor(fn, rm_directives=False).nb  # cells get `directives_`, sources stay as written

    def skip(cell):
        if cell.cell_type != "code": return True
        d = cell.directives_ or {}
        if "nbdev_export" + "(" in cell.source or d.get("eval:", [""])[0].lower() == "false" or flags & d.keys():
            cell.outputs, cell.execution_count = [], None
            return True
        return False

    shell = CaptureShell(fn, mpl_format="png")
    with working_directory(fn.parent):
        shell.run_all(nb, exc_stop=True, preproc=skip)
    write_nb(nb, fn)
    nbdev_clean(fname=str(fn))


def _run_in_subprocess(fn: Path, threads: int):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    t0 = time.time()
    r = subprocess.run([sys.executable, __file__, "--one", str(fn)], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    return fn, r.returncode == 0, time.time() - t0, (r.stdout + r.stderr)[-4000:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="notebooks to run (default: every teaching notebook)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="notebooks run at once")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    os.chdir(ROOT)
    if a.one: return run_one(Path(a.one).resolve())
    fns = [Path(f).resolve() for f in a.notebooks] or teaching_notebooks()
    threads = max(1, (os.cpu_count() or 1) // a.jobs)
    failed = []
    with ThreadPoolExecutor(a.jobs) as ex:
        for fn, ok, s, log in ex.map(lambda f: _run_in_subprocess(f, threads), fns):
            rel = fn.relative_to(ROOT)
            if not ok: failed.append(rel); print(log, file=sys.stderr)
            print(f"{'ok  ' if ok else 'FAIL'} {rel} ({s:.0f}s, {fn.stat().st_size / 1000:.0f} KB)", flush=True)
    print(f"{len(fns) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
