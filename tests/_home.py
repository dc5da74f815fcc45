"Shared helpers for the tests that run experiments on a synthetic data home in the real layouts."
import os
from pathlib import Path

import torch


def slow() -> bool:
    "True when the suite runs the `slow` flag (`make test-slow`)."
    return "slow" in os.environ.get("CXRVIT_TEST_FLAGS", "").split()


def make_home(d: Path, n: int = 360) -> Path:
    "A small data home (nih/, chexpert/, mimic_cxr/, covidx/) written by cxrvit.fixtures."
    from cxrvit.fixtures import make_data_home
    return make_data_home(Path(d), n=n, size=64, seed=0)


def weights(d: Path) -> dict:
    "Locally made weight files for the rows that fine-tune outside weights, shaped for the smoke (tiny) recipes."
    import torchvision
    from cxrvit.models import create_model
    from cxrvit.recipes import FINETUNE_VIT_S_NIH_TINY as FT, PRETRAIN_VIT_S_TINY as PT
    d = Path(d); d.mkdir(parents=True, exist_ok=True)
    vit = create_model(FT.model, **{**FT.model_kwargs(), "num_classes": 1000})  # an ImageNet-style 1000-class head
    out = {"vit": d / "deit_tiny.pth", "mae": d / "mae_tiny.pth", "densenet": d / "densenet121.pth",
           "resnet": d / "resnet50.pth"}
    torch.save({"model": vit.state_dict()}, out["vit"])
    torch.save({"model": create_model(PT.model, **PT.model_kwargs()).state_dict()}, out["mae"])
    torch.save(torchvision.models.densenet121().state_dict(), out["densenet"])
    torch.save(torchvision.models.resnet50().state_dict(), out["resnet"])
    return out


def input_for(name: str, w: dict) -> str:
    "The --input weights=PATH that registry entry `name` needs at smoke size."
    if "densenet" in name: return str(w["densenet"])
    if "resnet" in name: return str(w["resnet"])
    if "imagenet_sup" in name: return str(w["vit"])
    return str(w["mae"])
