"Foundation checks that must run out of process: pins agree, README matches its source, nbdev hygiene is enforced."
import configparser, json, re, shutil, subprocess, sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pins(reqs):
    out = {}
    for r in reqs:
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", r)
        assert m, f"requirement {r!r} is not pinned exactly (name==version)"
        out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def settings_pins():
    cfg = configparser.ConfigParser(delimiters=["="]); cfg.read(ROOT / "settings.ini")
    d = cfg["DEFAULT"]
    return _pins(d["requirements"].split() + d["dev_requirements"].split()), d["min_python"]


def env_pins(path=ROOT / "environment.yml"):
    env = yaml.safe_load(Path(path).read_text())
    deps = env["dependencies"]
    py = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    return _pins([p for p in pip if not p.startswith("-e")]), py.split("=", 1)[1]


def test_settings_and_environment_agree():
    s, spy = settings_pins(); e, epy = env_pins()
    assert spy == epy, f"python: settings.ini min_python {spy} vs environment.yml {epy}"
    only_s, only_e = sorted(set(s) - set(e)), sorted(set(e) - set(s))
    assert not only_s and not only_e, f"only in settings.ini: {only_s}; only in environment.yml: {only_e}"
    diff = {k: (s[k], e[k]) for k in s if s[k] != e[k]}
    assert not diff, f"pins differ (settings.ini, environment.yml): {diff}"


def test_disagreement_is_caught(tmp_path):
    "The check above must fail when environment.yml drifts."
    txt = (ROOT / "environment.yml").read_text().replace("timm==1.0.31", "timm==1.0.30")
    (tmp_path / "environment.yml").write_text(txt)
    e, _ = env_pins(tmp_path / "environment.yml"); s, _ = settings_pins()
    assert e["timm"] != s["timm"]


def _commands(text):
    "The `make …` command lines of the first code block that has any."
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        cmds = [l.strip() for l in block.splitlines() if l.strip().startswith("make ")]
        if cmds: return cmds
    return []


def test_readme_matches_index_notebook():
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text())
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    readme = (ROOT / "README.md").read_text()
    cmds = _commands(readme)
    assert cmds[:2] == ["make demo", "make test"], f"README's first commands must be make demo, make test; got {cmds}"
    assert _commands(md) == cmds, "README.md and nbs/index.ipynb disagree on the commands; edit both"


def test_nbdev_clean_keeps_parameters_tag(tmp_path):
    cell = {"cell_type": "code", "execution_count": 7, "id": "x1", "outputs": [],
            "metadata": {"tags": ["parameters"], "scrolled": True}, "source": "epochs = 2"}
    nb = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "py", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    f = tmp_path / "x.ipynb"; f.write_text(json.dumps(nb))
    # run from the repo so that nbdev reads our settings.ini (allowed_cell_metadata_keys = tags)
    subprocess.run([sys.executable, "-c", f"from nbdev.clean import nbdev_clean; nbdev_clean(fname={str(f)!r})"],
                   cwd=ROOT, check=True)
    c = json.loads(f.read_text())["cells"][0]
    assert c["metadata"] == {"tags": ["parameters"]}, c["metadata"]
    assert c["execution_count"] is None


def _copy_repo(dst):
    "A copy of the notebooks and library, brought in sync (so the tests below see only the faults they plant)."
    for name in ("nbs", "cxrvit", "tools"):
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    for name in ("settings.ini", "setup.py", "pyproject.toml"):
        if (ROOT / name).exists(): shutil.copy(ROOT / name, dst / name)
    code = "from nbdev.clean import nbdev_clean; from nbdev.doclinks import nbdev_export; nbdev_clean(fname=None); nbdev_export(path=None)"
    subprocess.run([sys.executable, "-c", code], cwd=dst, check=True, capture_output=True)


def _sync(dst):
    return subprocess.run([sys.executable, "tools/test_all.py", "--sync-only"], cwd=dst, capture_output=True, text=True, timeout=300)


def test_sync_check_passes_on_clean_tree(tmp_path):
    _copy_repo(tmp_path)
    r = _sync(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_edit_without_export_fails(tmp_path):
    _copy_repo(tmp_path)
    p = tmp_path / "nbs" / "00_core.ipynb"; nb = json.loads(p.read_text())
    c = next(c for c in nb["cells"] if "def seed_everything" in "".join(c["source"]))
    c["source"] = "".join(c["source"]).replace("def seed_everything", "# edited\ndef seed_everything")
    p.write_text(json.dumps(nb, indent=1) + "\n")
    r = _sync(tmp_path)
    assert r.returncode != 0 and "notebooks and library out of sync" in r.stdout, r.stdout + r.stderr


def test_execution_counts_fail_as_unclean(tmp_path):
    _copy_repo(tmp_path)
    p = tmp_path / "nbs" / "00_core.ipynb"; nb = json.loads(p.read_text())
    next(c for c in nb["cells"] if c["cell_type"] == "code")["execution_count"] = 3
    p.write_text(json.dumps(nb, indent=1) + "\n")
    r = _sync(tmp_path)
    assert r.returncode != 0 and "notebooks unclean" in r.stdout, r.stdout + r.stderr


def notebook_faults(nbs=ROOT / "nbs"):
    """Teaching notebooks without a code-cell output, templates with outputs, notebooks over their size cap.
    The caps (a default and its named exceptions) live in tools/run_nbs.py, which `make nbs` runs."""
    sys.path.insert(0, str(ROOT / "tools")); import run_nbs
    teach, bad = set(run_nbs.teaching_notebooks(nbs)), []
    for p in sorted(Path(nbs).rglob("*.ipynb")):
        rel, nb, size = p.relative_to(nbs).as_posix(), json.loads(p.read_text(encoding="utf-8")), p.stat().st_size
        n = run_nbs.n_outputs(nb)
        if p in teach and not n: bad.append(f"{rel}: no code-cell output (make nbs NBS=nbs/{rel})")
        if rel.startswith("experiments/") and n: bad.append(f"{rel}: a papermill template must stay output-free")
        if size > run_nbs.size_cap(rel): bad.append(f"{rel}: {size:,} bytes, over its cap of {run_nbs.size_cap(rel):,}")
    return bad


def test_teaching_notebooks_hold_outputs_within_their_caps():
    "Readers see results: every teaching notebook is saved with its outputs (`make nbs`), each under its cap."
    bad = notebook_faults()
    assert not bad, "; ".join(bad)


def test_output_check_catches_a_notebook_without_outputs(tmp_path):
    (tmp_path / "experiments").mkdir()
    nb = json.loads((ROOT / "nbs" / "00_core.ipynb").read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    for c in nb["cells"]: c["outputs"] = [] if c["cell_type"] == "code" else c.get("outputs")
    (tmp_path / "00_core.ipynb").write_text(json.dumps(nb))
    assert notebook_faults(tmp_path) == ["00_core.ipynb: no code-cell output (make nbs NBS=nbs/00_core.ipynb)"]
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 200_000}]
    (tmp_path / "00_core.ipynb").write_text(json.dumps(nb))
    (tmp_path / "experiments" / "t.ipynb").write_text(json.dumps({**nb, "cells": [code]}))
    faults = notebook_faults(tmp_path)
    assert [f.split(":")[0] for f in faults] == ["00_core.ipynb", "experiments/t.ipynb", "experiments/t.ipynb"], faults
    assert "over its cap of 150,000" in faults[0] and "output-free" in faults[1], faults


def test_readme_is_rendered_from_index():
    r = subprocess.run([sys.executable, "tools/readme.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_no_cell_mixes_imports_with_code():
    "The docs build (nbdev_proc_nbs) runs every cell that holds an import; one that also uses example variables breaks it."
    bad = []
    for p in sorted((ROOT / "nbs").glob("*.ipynb")):
        for i, c in enumerate(json.loads(p.read_text())["cells"]):
            src = "".join(c["source"]) if c["cell_type"] == "code" else ""
            if not src or re.search(r"^#\|\s*(export|exports|exporti)\b", src, re.M) or "nbdev_export()" in src: continue
            lines = [l for l in src.splitlines() if l.strip() and not l.strip().startswith("#")]
            imports = [l for l in lines if re.match(r"\s*(import \S|from \S+ import )", l)]
            if imports and (len(imports) < len(lines) or any(";" in l for l in imports)): bad.append(f"{p.name} cell {i}: {imports[0].strip()}")
    assert not bad, "move these imports into the notebook's import cell: " + "; ".join(bad)


def module_order(root=ROOT):
    "Imports inside `cxrvit` that run against the notebook numbering: (importer notebook, imported notebook)."
    nb_of = {}
    for p in sorted((root / "nbs").glob("*.ipynb")):
        m = re.search(r"#\|\s*default_exp\s+(\w+)", p.read_text())
        if m: nb_of[m.group(1)] = p.name
    bad = []
    for mod, nb in nb_of.items():
        src = (root / "cxrvit" / f"{mod}.py").read_text()
        bad += [(nb, nb_of[d]) for d in sorted(set(re.findall(r"from \.(\w+) import", src)))
                if d in nb_of and nb_of[d] > nb]
    return bad


def test_imports_follow_notebook_numbering():
    "A module may import only modules of notebooks numbered before it, so the docs read in data-flow order."
    assert module_order() == [], "imports against the numbering (importer, imported): rename or move code"


def test_import_order_check_catches_a_backward_import(tmp_path):
    (tmp_path / "nbs").mkdir(); (tmp_path / "cxrvit").mkdir()
    for nb, mod, src in [("01_a.ipynb", "a", "from .b import f\n"), ("02_b.ipynb", "b", "")]:
        (tmp_path / "nbs" / nb).write_text(json.dumps({"cells": [{"source": f"#| default_exp {mod}"}]}))
        (tmp_path / "cxrvit" / f"{mod}.py").write_text(src)
    assert module_order(tmp_path) == [("01_a.ipynb", "02_b.ipynb")]
