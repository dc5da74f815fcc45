"""MoCo v2 jobs run out of process by tests/test_moco.py (resume after SIGKILL, torchrun equality).

    python tests/moco_job.py resume --data DIR --run-dir R --out W.pt [--resume auto] [--save-every-steps 3]
    torchrun --nproc_per_node 2 tests/moco_job.py ddp --run-dir R --out W.pt --batch-per-device 8 --bn-splits 1

`resume`: the MoCo recipe with the TinyCNN backbone on a synthetic NIH-format folder through the real two-view
augmentation (32², batch 16, 2 epochs), deterministic, CPU; writes the final MoCo state dict (query and key
encoders, queue, pointer) to --out. `ddp`: fixed in-memory view pairs (no augmentation randomness), effective
batch 16 whatever the world size; one process emulates two devices with --bn-splits 2. Rank 0 writes the final
state dict and the step losses.
"""
import argparse, json
from pathlib import Path

import torch
from torch.utils.data import TensorDataset


def recipe(**kw):
    from cxrvit.recipes import MOCO_RESNET50_TINY
    base = dict(model="tiny_cnn", img_size=32, mlp_hidden=64, moco_dim=16, queue_size=40, batch_size=16,
                batch_per_device=16, save_every=100)
    return MOCO_RESNET50_TINY.replace(**{**base, **kw})


def resume_job(a):
    from cxrvit.datahome import pretrain_data, resolve_data_home
    from cxrvit.moco import moco_pretrain, moco_transform
    r = recipe()
    moco_pretrain(r, pretrain_data(r, resolve_data_home(a.data), transform=moco_transform(r)), a.run_dir, device="cpu", resume=a.resume, deterministic=True,
                  progress=False, log_every=1, save_every_steps=a.save_every_steps)
    sd = torch.load(Path(a.run_dir) / "checkpoint-last.pth", map_location="cpu", weights_only=False)["model"]
    torch.save(sd, a.out)


def ddp_job(a):
    import torch.nn.functional as F
    from cxrvit.engine import read_log
    from cxrvit.moco import moco_pretrain
    r = recipe(batch_per_device=a.batch_per_device, bn_splits=a.bn_splits, epochs=2, moco_m=0.9)
    g = torch.Generator().manual_seed(123)  # the same data on every rank
    base = F.interpolate(torch.randn(64, 1, 8, 8, generator=g), size=32, mode="bilinear").repeat(1, 3, 1, 1)
    pairs = torch.stack([base + 0.3 * torch.randn(base.shape, generator=g) for _ in range(2)], 1)  # [64, 2, 3, 32, 32]
    from cxrvit.engine import setup
    from cxrvit.moco import build_moco
    env, _ = setup(r, "cpu", deterministic=True)  # seeds before the model is built (moco_pretrain seeds again)
    m = build_moco(r)
    if env.is_main: torch.save({k: v.clone() for k, v in m.state_dict().items()}, Path(a.out).with_suffix(".init.pt"))
    moco_pretrain(r, TensorDataset(pairs), a.run_dir, device="cpu", deterministic=True, progress=False, log_every=1,
                  model=m)
    if env.is_main:
        torch.save(m.state_dict(), a.out)
        Path(a.out).with_suffix(".json").write_text(json.dumps([s["loss"] for s in read_log(a.run_dir, "step")]))
    if env.distributed: torch.distributed.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("job", choices=["resume", "ddp"])
    p.add_argument("--data"); p.add_argument("--run-dir", required=True); p.add_argument("--out", required=True)
    p.add_argument("--resume"); p.add_argument("--save-every-steps", type=int)
    p.add_argument("--batch-per-device", type=int, default=16); p.add_argument("--bn-splits", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(1)
    {"resume": resume_job, "ddp": ddp_job}[a.job](a)
