"Without numba (a machine given only some wheels) the grey pipelines fall back to Pillow, with one warning."
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys, warnings
sys.modules["numba"] = None  # `import numba` now raises ImportError
import numpy as np, torch
from PIL import Image
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    from cxrvit import fastpil
    from cxrvit.transforms import pretrain_transform
    tf = pretrain_transform(32, (0.5, 1.0))
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 40), dtype=np.uint8))
    torch.manual_seed(0); a = tf(img)  # the grey twin
    torch.manual_seed(0); b = tf(img.convert("RGB"))  # the stock 3-channel pipeline
print(fastpil.njit is None, fastpil.verified(), torch.equal(a, b),
      sum("numba is not installed" in str(x.message) for x in w))
"""


def test_grey_pipelines_fall_back_to_pillow_without_numba():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False", "True", "1"], out
