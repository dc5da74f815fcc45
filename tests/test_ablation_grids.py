"""Ablations change only what they name: every arm of every grid, built as it would run (recipes, transforms, model,
optimizer groups, loss, datasets), differs from its neighbour in exactly the grid's field, and the difference
reaches a constructed object (not only the recipe)."""
import itertools
from pathlib import Path

import pytest


# what each built value is evidence of: built key -> the recipe field that drives it
BUILT = {"rrc_scale": "rrc_scale", "mask_ratio": "mask_ratio", "auto_augment": "auto_augment",
         "drop_path": "drop_path", "layer_decay": "layer_decay", "train_images": "label_fraction",
         "mixup": "mixup"}


@pytest.fixture(scope="module")
def home(world):
    from cxrvit.datahome import resolve_data_home
    return resolve_data_home(world["home"])


def grids():
    from cxrvit.experiments import load_registry
    reg, out = load_registry(), {}
    for name, e in reg.items():
        g, _, tag = name.rpartition("/")
        if g and tag.count("=") == 1: out.setdefault(g, []).append(e)
    return out


def effective(exp, home):
    from cxrvit.experiments import step_params
    from cxrvit.steps import effective_config
    return {s.id: effective_config(s.notebook, step_params(exp, s, Path("/r"), smoke=True), home) for s in exp.steps}


def differences(a: dict, b: dict) -> tuple[set, set]:
    "(recipe fields, built names) in which two arms' effective configurations differ."
    fields, built = set(), set()
    for sid in a:
        for k in set(a[sid]) | set(b[sid]):
            if a[sid].get(k) == b[sid].get(k): continue
            kind, key = k.split(".", 1)
            (fields if kind == "recipe" else built).add(key if kind == "recipe" else BUILT.get(key.split(".")[0], key))
    return fields, built


def check_grid(arms, home) -> list[str]:
    field = arms[0].name.rsplit("/", 1)[1].split("=")[0]
    cfg = [effective(e, home) for e in arms]
    bad = []
    for (i, a), (j, b) in itertools.pairwise(enumerate(cfg)):
        fields, built = differences(a, b)
        if fields != {field}: bad.append(f"{arms[i].name} vs {arms[j].name}: recipes differ in {sorted(fields)}")
        if built != {field}: bad.append(f"{arms[i].name} vs {arms[j].name}: built objects differ in {sorted(built)}")
    return bad


def test_every_grid_changes_exactly_its_field(home):
    gs = grids()
    assert {"ablations/mask_ratio", "ablations/rrc_scale", "ablations/layer_decay", "ablations/randaug",
            "ablations/drop_path", "label_fraction/vit_s_xray_mae"} <= set(gs), sorted(gs)
    bad = [p for arms in gs.values() for p in check_grid(arms, home)]
    assert not bad, "\n".join(bad)


def test_finetune_grids_share_one_pretraining():
    from cxrvit.experiments import step_dirs
    for g in ("ablations/layer_decay", "ablations/drop_path", "ablations/randaug", "label_fraction/vit_s_xray_mae"):
        pre = {step_dirs(e, Path("/r"))["pretrain"] for e in grids()[g]}
        assert pre == {Path("/r/table1/vit_s_xray_mae/pretrain")}, (g, pre)


def test_the_check_catches_a_scale_that_stops_at_the_recipe(home, monkeypatch):
    "Revert the RRC-scale fix (every corpus part built at the paper's scale): the rrc_scale grid must fail."
    import cxrvit.datahome as dh
    orig = dh.pretrain_part_transform
    monkeypatch.setattr(dh, "pretrain_part_transform", lambda r, n: orig(r.replace(rrc_scale=(0.5, 1.0)), n))
    bad = check_grid(grids()["ablations/rrc_scale"], home)
    assert any("built objects differ in []" in b for b in bad), bad
