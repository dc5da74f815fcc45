"""Per-rank augmentation draws under torchrun (run by tests/test_input.py).

    torchrun --nproc_per_node 2 tests/input_job.py --data CACHE --out DRAWS.json

Each rank draws the crops of one epoch through both input pipelines — `LoaderInput` (DataLoader, per-sample
seeds, 2 workers) and `DeviceInput` (per-rank generator, on the CPU) — then again resumed half-way; rank 0
writes every rank's draws to --out.
"""
import argparse, json
import torch
import torch.distributed as dist
from torchvision import transforms as T


class CropDraws(torch.utils.data.Dataset):
    "Items are the (top, left, h, w, flip) that the paper's pre-training transform draws for a 64² image."
    def __init__(self, n): self.n, self.img = n, torch.zeros(1, 64, 64)
    def __len__(self): return self.n
    def __getitem__(self, i):
        i0, j0, h, w = T.RandomResizedCrop.get_params(self.img, (0.5, 1.0), (3 / 4, 4 / 3))
        return torch.tensor([i0, j0, h, w, int(torch.rand(1).item() < 0.5)])


def main(a):
    from cxrvit.cache import CachedNIHDataset
    from cxrvit.engine import EpochSampler, LoaderInput, init_distributed
    from cxrvit.gpu_input import DeviceInput, spec_from_transform
    from cxrvit.transforms import pretrain_transform
    env = init_distributed("gloo")
    n, half = 32, 8  # 16 items per rank, batches of 4
    out = {}
    inp = LoaderInput(CropDraws(n), EpochSampler(n, n, env.rank, env.world_size, seed=0), 4, 2, torch.device("cpu"))
    inp.set_epoch(1); full = torch.cat(list(inp))
    inp.set_epoch(1, start=half); tail = torch.cat(list(inp))
    out["loader"] = {"full": full.tolist(), "resumed_tail": tail.tolist()}
    ds = CachedNIHDataset(a.data, "train", transform=pretrain_transform(32, (0.5, 1.0)), image_only=True)
    m = len(ds) // (4 * env.world_size) * 4 * env.world_size
    mk = lambda: DeviceInput(ds, spec_from_transform(ds.transform), EpochSampler(len(ds), m, env.rank, env.world_size),
                             4, "cpu", seed=0, rank=env.rank)
    d = mk(); d.set_epoch(1); it = iter(d); next(it); crops = d.last_params.tolist(); sd = d.state_dict()
    rest = [x for x, _ in it]
    d2 = mk(); d2.load_state_dict(sd); d2.set_epoch(1, start=4); resumed = [x for x, _ in d2]
    out["device"] = {"first": crops,
                     "resumed_equal": all(torch.equal(x, y) for x, y in zip(rest, resumed)) and len(rest) == len(resumed)}
    got = [None] * env.world_size; dist.all_gather_object(got, out)
    if env.rank == 0: open(a.out, "w").write(json.dumps(got))
    dist.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser(); p.add_argument("--data", required=True); p.add_argument("--out", required=True)
    torch.set_num_threads(1); main(p.parse_args())
