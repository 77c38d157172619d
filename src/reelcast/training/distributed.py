"""Data-parallel training under `torchrun`: process group, rank, who may write, and `DDPRank`, one
rank's side of a DistributedDataParallel training step.

`torchrun --nproc-per-node N -m reelcast.cli train --finetune-text ...` starts N copies of the
command; torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) says which one
each is. Every rank loads the table and trains the split's model together (DDP: gloo on CPU, nccl
on GPU, each rank a shard of every batch); only rank 0 evaluates and writes the run folder. Without
those variables (or with WORLD_SIZE=1) nothing here changes a plain run.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from reelcast.config import TrainConfig

log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]

# Ranks wait at barriers while rank 0 fills the feature store, which can take long on a big table.
BARRIER_TIMEOUT = timedelta(hours=6)
_solo = False


def env_world_size() -> int:
    """WORLD_SIZE as torchrun set it (1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def init_from_env() -> bool:
    """Join the process group torchrun describes; True when this run is distributed."""
    if env_world_size() <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group(backend="nccl" if cuda else "gloo", timeout=BARRIER_TIMEOUT)
        # N ranks share this machine's cores: each gets its share of torch threads unless told otherwise.
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE", str(env_world_size())) or 1)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // per_node))
        log.info("rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(), dist.get_backend())
    return True


def active() -> bool:
    """True inside a process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """How many ranks train together (1 when not distributed)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """True on the one process that evaluates and writes (rank 0, or a plain run)."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if active():
        dist.barrier()


def ddp_training() -> bool:
    """True when `train_model` should train data-parallel (distributed and not in a `solo` block)."""
    return active() and not _solo


@contextlib.contextmanager
def solo() -> Iterator[None]:
    """Rank 0 alone (evaluation, ablation baselines): training inside trains on this process only."""
    global _solo
    before, _solo = _solo, True
    try:
        yield
    finally:
        _solo = before


def shutdown() -> None:
    """Leave the process group (end of a torchrun command)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class DDPRank:
    """One rank's side of DDP training: its shard of each epoch's order and a loss whose averaged
    gradient equals the single-process gradient of the whole batch.

    Every rank draws the same permutation from the shared seed; a DistributedSampler over its
    positions gives rank r the positions r, r + W, ... (padded to equal length), so the k-th batches
    of the W ranks together are the k-th batch a single process with `batch_size` would take.
    """

    def __init__(self, model: nn.Module, cfg: TrainConfig, device: torch.device):
        from torch.nn.parallel import DistributedDataParallel

        self.dist = dist
        self.world, self.rank = dist.get_world_size(), dist.get_rank()
        if cfg.batch_size % self.world:
            log.warning(
                "train.batch_size %d is not a multiple of %d ranks; each rank takes %d",
                cfg.batch_size,
                self.world,
                max(1, cfg.batch_size // self.world),
            )
        self.batch_size = max(1, cfg.batch_size // self.world)
        self.device = device
        # Dropout and modality dropout differ per rank (the permutation generator stays shared).
        torch.manual_seed(cfg.seed + 7919 * (self.rank + 1))
        self.gen = torch.Generator().manual_seed(cfg.seed + 7919 * (self.rank + 1))
        ids = None
        if device.type == "cuda":
            ids = [device.index if device.index is not None else torch.cuda.current_device()]
        # nccl reduces tensors on the GPU, gloo on the CPU.
        self.comm = torch.device("cuda", ids[0]) if dist.get_backend() == "nccl" else torch.device("cpu")
        # DDP broadcasts rank 0's weights, so every rank starts from the same model.
        self.model = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
        self.epoch = 0

    def start_epoch(self, epoch: int) -> None:
        """Note the epoch (the sampler's padding and order depend only on the shared permutation)."""
        self.epoch = epoch

    def shard(self, perm: torch.Tensor) -> torch.Tensor:
        """This rank's films of the epoch, from the permutation every rank drew alike."""
        from torch.utils.data import DistributedSampler

        sampler = DistributedSampler(
            range(len(perm)), num_replicas=self.world, rank=self.rank, shuffle=False, drop_last=False
        )
        sampler.set_epoch(self.epoch)
        return perm[torch.as_tensor(list(sampler), dtype=torch.long)]

    def step_loss(self, batch: Batch, target: torch.Tensor, weights: torch.Tensor | None):
        """(logits, loss to backpropagate, the whole batch's loss for the history)."""
        logits = self.model(batch)
        per_film = nn.functional.cross_entropy(logits, target, weight=weights, reduction="none")
        # The (weighted) mean over the whole batch: divide by the batch's total weight over all ranks,
        # times W because DDP averages the ranks' gradients.
        denom = weights[target].sum() if weights is not None else torch.tensor(float(len(target)))
        stats = torch.stack([per_film.sum().detach(), denom.detach().to(per_film)]).to(self.comm)
        self.dist.all_reduce(stats)
        loss = per_film.sum() * self.world / stats[1].to(per_film.device)
        return logits, loss, stats[0] / stats[1]

    def sum(self, value: float) -> float:
        """A number summed over the ranks."""
        t = torch.tensor([float(value)], dtype=torch.float64, device=self.comm)
        self.dist.all_reduce(t)
        return float(t.item())

    def from_rank0(self, *values: float) -> tuple[float, ...]:
        """Rank 0's values on every rank."""
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.comm)
        self.dist.broadcast(t, src=0)
        return tuple(float(v) for v in t.tolist())

    def close(self) -> None:
        """Wait for every rank before the model leaves training."""
        self.dist.barrier()
