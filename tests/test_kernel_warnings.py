"What a notebook shows when it imports cxrvit in a real Jupyter kernel (the experiment notebooks, report.html)."
import json, sys
from pathlib import Path

import nbformat, papermill as pm

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_library_in_a_kernel_prints_no_warning(tmp_path):
    "timm imports huggingface_hub, which imports tqdm.auto: without ipywidgets that printed a TqdmWarning in red."
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import cxrvit.steps, timm")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    pm.execute_notebook(str(src), str(out), kernel_name="python3", cwd=str(ROOT), progress_bar=False)
    outputs = json.loads(out.read_text())["cells"][0]["outputs"]
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "IProgress" not in text and "Warning" not in text, text
