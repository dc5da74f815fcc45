"""No recipe field that does nothing: run pre-training, fine-tuning (with evaluation) and a linear probe at toy size
with recipes that record every field a code path reads (reads by `dataclasses` itself — asdict, replace — and by
the recipe's own domain check `validate` do not count); every field of every recipe class must be read by some path."""
import dataclasses, sys
from pathlib import Path

import pytest

READ: dict[str, set] = {}


def tracked(recipe):
    "A copy of `recipe` whose class records the fields read outside the dataclasses module."
    cls = type(recipe)
    names = {f.name for f in dataclasses.fields(cls)}
    def getattribute(self, k):
        if k in names:
            code = sys._getframe(1).f_code
            if not code.co_filename.endswith("dataclasses.py") and code.co_name not in ("validate", "__post_init__"):
                READ.setdefault(cls.__name__, set()).add(k)
        return object.__getattribute__(self, k)
    sub = type(cls.__name__, (cls,), {"__getattribute__": getattribute, "__module__": cls.__module__})
    return sub(**{f.name: getattr(recipe, f.name) for f in dataclasses.fields(cls)})


def test_every_recipe_field_is_read(tmp_path, monkeypatch):
    from cxrvit import steps
    from cxrvit.recipes import FinetuneRecipe, LinprobeRecipe, PretrainRecipe, Recipe
    orig = steps.step_recipe
    monkeypatch.setattr(steps, "step_recipe", lambda *a, **k: tracked(orig(*a, **k)))
    monkeypatch.setenv("CXRVIT_CACHE", str(tmp_path / "cache"))
    syn = dict(synth_n=160, synth_size=64, device="cpu")
    steps.pretrain_step("PRETRAIN_VIT_S_TINY", ["epochs=1"], run_dir=tmp_path / "pre", **syn)
    init = str(tmp_path / "pre" / "checkpoint-last.pth")
    steps.classifier_step("FINETUNE_VIT_S_NIH_TINY", ["epochs=1"], init=init, run_dir=tmp_path / "ft", **syn)
    steps.classifier_step("LINPROBE_TINY", ["epochs=1"], init=init, kind="linprobe", run_dir=tmp_path / "lp", **syn)
    base = {f.name for f in dataclasses.fields(Recipe)}
    read_any = set().union(*READ.values())
    unread = {"Recipe": sorted(base - read_any)}
    for cls in (PretrainRecipe, FinetuneRecipe, LinprobeRecipe):
        own = {f.name for f in dataclasses.fields(cls)} - base
        unread[cls.__name__] = sorted(own - READ.get(cls.__name__, set()))
    assert not any(unread.values()), f"recipe fields no code path reads: {unread}"


def test_the_tracker_sees_an_unread_field():
    "A field added to a recipe and read by nothing is caught (the test above can fail)."
    from cxrvit.recipes import FINETUNE_VIT_S_NIH_TINY
    READ.clear()
    r = tracked(FINETUNE_VIT_S_NIH_TINY)
    _ = r.mixup, dataclasses.asdict(r)
    assert READ == {"FinetuneRecipe": {"mixup"}}
