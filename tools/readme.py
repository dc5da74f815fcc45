"""Write README.md from nbs/index.ipynb (what `nbdev_readme` does, without quarto, which our machines lack).

    python tools/readme.py           # write README.md
    python tools/readme.py --check   # exit 1 if README.md differs from what index.ipynb renders to
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTE = "<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file. -->\n\n"
NB_LINK = re.compile(r"\]\((?!https?:|#|/)([^)\s]+\.ipynb(?:#[^)\s]*)?)\)")  # a link to a notebook beside index


def repo_links(md: str) -> str:
    "Links relative to nbs/ (as the docs site reads them) made relative to the repository root, for README.md."
    return NB_LINK.sub(r"](nbs/\1)", md)


def render(nb_path=ROOT / "nbs" / "index.ipynb") -> str:
    "The notebook's markdown cells (and code cells as python blocks), joined as one markdown page."
    parts = []
    for c in json.loads(Path(nb_path).read_text())["cells"]:
        src = "".join(c["source"]).strip()
        if not src or src.startswith("#| hide"): continue
        parts.append(repo_links(src) if c["cell_type"] == "markdown" else f"```python\n{src}\n```")
    return NOTE + "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    out = render()
    if "--check" in sys.argv:
        ok = (ROOT / "README.md").read_text() == out
        print("README.md matches nbs/index.ipynb" if ok else "README.md differs from nbs/index.ipynb: run python tools/readme.py")
        sys.exit(0 if ok else 1)
    (ROOT / "README.md").write_text(out)
