"""Data-parallel training under `torchrun`: process group, rank, and who may write.

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

log = logging.getLogger(__name__)

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
