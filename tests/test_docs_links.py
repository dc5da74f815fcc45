"""The front page lists every notebook, and every link to an anchor of the explanation page or of the front
page resolves."""
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
PAPER_ANCHORS = {"provenance", "datasets-and-splits", "pre-training", "fine-tuning", "layer-wise-lr-decay",
                 "linear-probe", "baselines", "published-results", "evaluation-protocol",
                 "official-code-quirks", "checkpoint-layout", "speed"}  # other notebooks link to these


def _markdown(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _pages() -> list[Path]:
    "The notebooks of the docs: nbs/**.ipynb except papermill experiments and names starting with '_' or '.'."
    rel = lambda p: p.relative_to(NBS).parts
    return [p for p in sorted(NBS.rglob("*.ipynb"))
            if "experiments" not in rel(p) and not any(s.startswith(("_", ".")) for s in rel(p))]


def test_index_lists_every_notebook():
    index = _markdown(NBS / "index.ipynb")
    missing = [p.relative_to(NBS).as_posix() for p in _pages()
               if p.name != "index.ipynb" and f"]({p.relative_to(NBS).as_posix()})" not in index]
    assert not missing, f"nbs/index.ipynb's module table does not link to: {missing}"


def test_front_page_leads_to_the_tour_and_the_explanation_page():
    first = "\n".join(_markdown(NBS / "index.ipynb").splitlines()[:12])
    assert "](00_tour.ipynb)" in first and "](explanations/paper.ipynb)" in first


def test_anchor_links_resolve():
    "Links such as `explanations/paper.ipynb#pre-training` or `index.ipynb#cluster` name an existing anchor."
    pages = (NBS / "explanations" / "paper.ipynb", NBS / "index.ipynb")
    targets = {p: set(ANCHOR.findall(_markdown(p))) for p in pages}
    bad = []
    for page in _pages():
        for link, anchor in re.findall(r"\]\(([^)#\s]*\.ipynb)#([^)\s]+)\)", _markdown(page)):
            target = (page.parent / link).resolve()
            if target in targets and anchor not in targets[target]:
                bad.append(f"{page.relative_to(NBS)}: {link}#{anchor}")
    for page in targets:  # links inside a page to its own anchors
        bad += [f"{page.relative_to(NBS)}: #{a}" for a in re.findall(r"\]\(#([^)\s]+)\)", _markdown(page))
                if a not in targets[page]]
    assert not bad, f"links to anchors that do not exist: {bad}"


def test_explanation_page_has_the_anchors_other_pages_use():
    assert PAPER_ANCHORS <= set(ANCHOR.findall(_markdown(NBS / "explanations" / "paper.ipynb")))
    assert "cluster" in ANCHOR.findall(_markdown(NBS / "index.ipynb"))
