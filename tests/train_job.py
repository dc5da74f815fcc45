"""Training jobs run out of process by tests/test_train.py (resume after SIGKILL, torchrun equality).

    python tests/train_job.py pretrain --data DIR --run-dir R --out W.pt [--resume auto] [--save-every-steps 3]
    torchrun --nproc_per_node 2 tests/train_job.py ddp --run-dir R --out W.pt --batch-per-device 8

`pretrain`: the tiny MAE recipe on a synthetic NIH-format folder, deterministic, CPU, num_workers=0; writes the
final weights to --out. `ddp`: a tiny ViT fine-tune step loop on fixed in-memory tensors (no randomness in the
model or data), effective batch 16 whatever the world size; rank 0 writes the final weights and step losses.
"""
import argparse, json, os, sys
from pathlib import Path

import torch
from torch.utils.data import TensorDataset


def pretrain_job(a):
    from cxrvit.datahome import pretrain_data, resolve_data_home
    from cxrvit.pretrain import pretrain
    from cxrvit.recipes import PRETRAIN_VIT_S_TINY
    r = PRETRAIN_VIT_S_TINY
    pretrain(r, pretrain_data(r, resolve_data_home(a.data)), a.run_dir, device="cpu", resume=a.resume, deterministic=True,
             progress=False, log_every=1, save_every_steps=a.save_every_steps)
    sd = torch.load(Path(a.run_dir) / "checkpoint-last.pth", map_location="cpu", weights_only=False)["model"]
    torch.save(sd, a.out)


def ddp_job(a):
    from cxrvit.engine import masked_bce_with_logits, read_log, setup, train, unwrap
    from cxrvit.finetune import finetune_groups, loss_for
    from cxrvit.models import create_model
    from cxrvit.optim import adamw
    from cxrvit.recipes import FINETUNE_VIT_S_NIH_TINY
    r = FINETUNE_VIT_S_NIH_TINY.replace(drop_path=0.0, batch_size=16, batch_per_device=a.batch_per_device, epochs=2,
                                        warmup_epochs=0.5, blr=0.01, save_every=100)
    env, dev = setup(r, "cpu", deterministic=True)
    g = torch.Generator().manual_seed(123)  # same data on every rank
    x = torch.randn(64, 3, 64, 64, generator=g)
    y = (torch.rand(64, 14, generator=g) < 0.3).float()
    model = create_model(r.model, **r.model_kwargs())
    if env.is_main: torch.save({k: v.clone() for k, v in model.state_dict().items()}, Path(a.out).with_suffix(".init.pt"))
    train(model, TensorDataset(x, y), a.run_dir, recipe=r, env=env, device=dev, progress=False, log_every=1,
          make_optimizer=lambda m: adamw(finetune_groups(m, r), r, dev), loss_fn=loss_for(r))
    if env.is_main:
        torch.save(unwrap(model).state_dict(), a.out)
        Path(a.out).with_suffix(".json").write_text(json.dumps([s["loss"] for s in read_log(a.run_dir, "step")]))
    if env.distributed: torch.distributed.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("job", choices=["pretrain", "ddp"])
    p.add_argument("--data"); p.add_argument("--run-dir", required=True); p.add_argument("--out", required=True)
    p.add_argument("--resume"); p.add_argument("--save-every-steps", type=int)
    p.add_argument("--batch-per-device", type=int, default=16)
    a = p.parse_args()
    torch.set_num_threads(1)
    from cxrvit.engine import EXIT_PREEMPTED, Preempted
    try: {"pretrain": pretrain_job, "ddp": ddp_job}[a.job](a)
    except Preempted as e: print(e, file=sys.stderr); sys.exit(EXIT_PREEMPTED)  # SIGTERM/SIGUSR1: saved, resumable
