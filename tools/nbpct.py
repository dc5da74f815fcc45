"""Convert between notebooks and a plain "percent" text form, for writing notebooks in an editor.

    python tools/nbpct.py to-nb  nbs/00_core.py     nbs/00_core.ipynb
    python tools/nbpct.py to-py  nbs/00_core.ipynb  /tmp/00_core.py

Cells start with a line `# %%` (code), `# %% [markdown]` (markdown: each line keeps its text after `# `),
or `# %% tags=parameters` (a code cell tagged for papermill). The notebook stays the source of truth:
the text form is a scratch copy, never committed.
"""
import json, sys
from pathlib import Path

KERNEL = {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}


def _cell(kind, lines, tags):
    while lines and not lines[-1].strip(): lines.pop()
    while lines and not lines[0].strip(): lines.pop(0)
    if kind == "markdown":
        lines = [l[2:] if l.startswith("# ") else l.lstrip("#") for l in lines]
    src = "\n".join(lines)
    c = {"cell_type": kind, "metadata": {"tags": tags} if tags else {}, "source": src}
    if kind == "code": c.update(execution_count=None, outputs=[])
    return c


def to_nb(text):
    cells, kind, lines, tags = [], None, [], []
    for line in text.splitlines():
        if line.startswith("# %%"):
            if kind: cells.append(_cell(kind, lines, tags))
            head = line[4:].strip()
            kind = "markdown" if head.startswith("[markdown]") else "code"
            tags = head.split("=", 1)[1].split(",") if head.startswith("tags=") else []
            lines = []
        elif kind: lines.append(line)
    if kind: cells.append(_cell(kind, lines, tags))
    return {"cells": cells, "metadata": KERNEL, "nbformat": 4, "nbformat_minor": 5}


def to_py(nb):
    out = []
    for c in nb["cells"]:
        src = c["source"] if isinstance(c["source"], str) else "".join(c["source"])
        tags = c.get("metadata", {}).get("tags", [])
        if c["cell_type"] == "markdown":
            out += ["# %% [markdown]"] + ["# " + l if l else "#" for l in src.splitlines()]
        else:
            out += ["# %%" + (f" tags={','.join(tags)}" if tags else "")] + src.splitlines()
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    cmd, src, dst = sys.argv[1:4]
    if cmd == "to-nb": Path(dst).write_text(json.dumps(to_nb(Path(src).read_text()), indent=1) + "\n")
    elif cmd == "to-py": Path(dst).write_text(to_py(json.loads(Path(src).read_text())))
    else: sys.exit(f"unknown command {cmd!r}: use to-nb or to-py")
