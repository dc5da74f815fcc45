"""Shape of the notebooks and the library, as issue-style figures: `python tools/nbstats.py [--json]`.

Code-cell lines (median/p90), the share of export cells that define more than one public symbol,
function lengths in `cxrvit/` (median/p90/max), the share of library lines over 100 characters,
cells with outputs and figures, and notebook sizes.
"""
import argparse, ast, json, statistics as st
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ("#| export", "#|export", "#| exports", "#| exporti")


def _p90(xs): return sorted(xs)[int(0.9 * (len(xs) - 1))] if xs else 0


def public_defs(src):
    "Top-level public names a cell defines (functions, classes, assigned names; `_x` is private)."
    try: tree = ast.parse(src)
    except SyntaxError: return []
    names = []
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            patched = any(getattr(d, "id", None) == "patch" for d in n.decorator_list)
            if not patched: names.append(n.name)
        elif isinstance(n, (ast.Assign, ast.AnnAssign)):
            ts = n.targets if isinstance(n, ast.Assign) else [n.target]
            names += [t.id for t in ts if isinstance(t, ast.Name)]
    return [x for x in names if not x.startswith("_") and x != "__all__"]


def nb_stats(nbs):
    code, exports, multi, with_out, figs, sizes = [], 0, 0, 0, 0, {}
    for p in nbs:
        nb = json.loads(p.read_text())
        sizes[str(p.relative_to(ROOT))] = p.stat().st_size
        for c in nb["cells"]:
            if c["cell_type"] != "code": continue
            src = "".join(c["source"])
            body = [l for l in src.splitlines() if l.strip() and not l.startswith("#|")]
            code.append(len(body))
            if any(l.strip().startswith(EXPORT) for l in src.splitlines()[:3]):
                exports += 1
                multi += len(public_defs(src)) > 1
            outs = c.get("outputs", [])
            with_out += bool(outs)
            figs += any("image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})
                        for o in outs)
    return dict(code_cells=len(code), code_median=st.median(code) if code else 0, code_p90=_p90(code),
                export_cells=exports, multi_symbol_share=round(multi / max(exports, 1), 3),
                cells_with_outputs=with_out, cells_with_figures=figs, notebook_bytes=sizes)


def lib_stats(files):
    fn, lines, long = [], 0, 0
    for p in files:
        src = p.read_text()
        ls = src.splitlines(); lines += len(ls); long += sum(len(l) > 100 for l in ls)
        for n in ast.walk(ast.parse(src)):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                fn.append((n.end_lineno - n.lineno + 1, f"{p.stem}.{n.name}"))
    lens = [l for l, _ in fn]
    return dict(functions=len(fn), fn_median=st.median(lens), fn_p90=_p90(lens), fn_max=max(fn),
                fns_over_50=sorted((x for x in fn if x[0] > 50), reverse=True),
                lines=lines, long_line_share=round(long / max(lines, 1), 3))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    nbs = sorted(p for p in (ROOT / "nbs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    lib = sorted(p for p in (ROOT / "cxrvit").rglob("*.py") if p.name != "_modidx.py")
    res = dict(notebooks=nb_stats(nbs), library=lib_stats(lib))
    if a.json: print(json.dumps(res, indent=1)); return
    n, l = res["notebooks"], res["library"]
    print(f"code cells {n['code_cells']}: median {n['code_median']} lines, p90 {n['code_p90']}")
    print(f"export cells {n['export_cells']}: multi-symbol {n['multi_symbol_share']:.1%}")
    print(f"functions {l['functions']}: median {l['fn_median']}, p90 {l['fn_p90']}, max {l['fn_max']}")
    print(f"functions over 50 lines: {len(l['fns_over_50'])}")
    print(f"library lines {l['lines']}: over 100 chars {l['long_line_share']:.1%}")
    print(f"cells with outputs {n['cells_with_outputs']}, with figures {n['cells_with_figures']}")
    big = sorted(n["notebook_bytes"].items(), key=lambda kv: -kv[1])[:5]
    print("largest notebooks: " + ", ".join(f"{k} {v // 1024} KB" for k, v in big))


if __name__ == "__main__": main()
