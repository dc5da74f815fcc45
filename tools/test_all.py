"""`make test`: the four nbdev-ci checks plus pytest, with one closing line `N passed, N failed`.

1. `nbdev_clean` must leave the notebooks unchanged (else: "notebooks unclean"),
2. `nbdev_export` must leave the library unchanged (else: "notebooks and library out of sync"),
3. every notebook under nbs/ runs (nbdev's test runner, in parallel, cells flagged in `--flags` included),
4. pytest runs tests/ (what must run out of process: CLI, torchrun, papermill).
Each notebook, each sync check and each pytest test counts as one test.
"""
import argparse, concurrent.futures as cf, hashlib, multiprocessing as mp, os, subprocess, sys, time
import xml.etree.ElementTree as ET
from pathlib import Path

from nbworker import run_nb  # tools/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parent.parent


def _digest(paths):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _changed(before, after):
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def check_sync():
    "Run nbdev_clean and nbdev_export; return a list of (name, error or None)."
    from nbdev.clean import nbdev_clean
    from nbdev.doclinks import nbdev_export
    nbs = lambda: sorted((ROOT / "nbs").rglob("*.ipynb"))
    lib = lambda: sorted(p for p in (ROOT / "cxrvit").rglob("*.py") if "__pycache__" not in p.parts)
    res = []
    b = _digest(nbs()); nbdev_clean(fname=None); ch = _changed(b, _digest(nbs()))
    res.append(("nbdev_clean", f"notebooks unclean (nbdev_clean changed {', '.join(ch)}); review and commit them" if ch else None))
    b = _digest(lib()); nbdev_export(path=None); ch = _changed(b, _digest(lib()))
    res.append(("nbdev_export", "notebooks and library out of sync: nbdev_export changed "
                f"{', '.join(ch)}; edit the notebooks, never cxrvit/*.py, then run nbdev_export and commit" if ch else None))
    return res


def notebooks():
    "Notebooks nbdev_test would run: skip names starting with '_' or '.', and folders holding a .notest file."
    out = []
    for p in sorted((ROOT / "nbs").rglob("*.ipynb")):
        rel = p.relative_to(ROOT / "nbs")
        if any(part.startswith(("_", ".")) for part in rel.parts): continue
        if any((q / ".notest").exists() for q in p.parents if ROOT / "nbs" in (q, *q.parents)): continue
        out.append(p)
    return out


def run_notebooks(flags, workers):
    fns = notebooks()
    threads = max(1, (os.cpu_count() or 1) // workers)
    res = []
    ctx = mp.get_context("fork")  # as nbdev_test: classes a notebook defines stay picklable for DataLoader workers
    with cf.ProcessPoolExecutor(workers, mp_context=ctx) as ex:
        futs = {ex.submit(run_nb, str(f), flags, threads): f for f in fns}
        for fut in cf.as_completed(futs):
            f = futs[fut].relative_to(ROOT)
            try: ok, s = fut.result()
            except Exception as e: ok, s = False, 0.0; print(f"{f}: runner error {e!r}")
            print(f"{'ok  ' if ok else 'FAIL'} {f} ({s:.0f}s)", flush=True)
            res.append((str(f), None if ok else "notebook failed (see its error above)"))
    return res


def run_pytest(flags):
    xml = ROOT / ".pytest_cache" / "junit.xml"; xml.parent.mkdir(exist_ok=True)
    if xml.exists(): xml.unlink()
    env = dict(os.environ, CXRVIT_TEST_FLAGS=" ".join(flags))
    rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "tests", f"--junitxml={xml}"], cwd=ROOT, env=env)
    if not xml.exists():
        return 0, 1, 0, rc
    s = ET.parse(xml).getroot()
    s = s if s.tag == "testsuite" else s.find("testsuite")
    n, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    failed = f + e + (1 if rc not in (0, 5) and f + e == 0 else 0)
    return n - f - e - sk, failed, sk, rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flags", default="", help="tst_flags to run too, e.g. 'slow' or 'slow cuda'")
    ap.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8))
    ap.add_argument("--no-sync", action="store_true", help="skip the clean/export checks")
    ap.add_argument("--sync-only", action="store_true", help="only the clean/export checks")
    a = ap.parse_args()
    flags = a.flags.split()
    os.chdir(ROOT)
    t0 = time.time()
    results = [] if a.no_sync else check_sync()
    for name, err in results:
        if err: print(f"FAIL {name}: {err}")
    if a.sync_only:
        bad = sum(1 for _, e in results if e)
        print(f"{len(results) - bad} passed, {bad} failed")
        sys.exit(1 if bad else 0)
    results += run_notebooks(flags, a.workers)
    print("--- pytest", flush=True)
    p_ok, p_fail, p_skip, _ = run_pytest(flags)
    nb_fail = [(n, e) for n, e in results if e]
    print(f"\nnotebooks and sync checks: {len(results) - len(nb_fail)} passed, {len(nb_fail)} failed")
    for n, e in nb_fail: print(f"  FAIL {n}: {e}")
    print(f"pytest: {p_ok} passed, {p_fail} failed, {p_skip} skipped")
    print(f"total time {time.time() - t0:.0f}s")
    passed, failed = len(results) - len(nb_fail) + p_ok, len(nb_fail) + p_fail
    print(f"{passed} passed, {failed} failed" + (f", {p_skip} skipped" if p_skip else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
