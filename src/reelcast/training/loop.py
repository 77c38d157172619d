"""The training loop: AdamW, LR schedule, class-balanced loss, clipping, early stopping on macro-F1.

Everything the loop touches is already an in-memory tensor (frozen features come from the store), so
one epoch is only the fusion network's forward and backward passes.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

import reelcast.training.distributed as distributed
from reelcast.config import TrainConfig
from reelcast.data.classes import NUM_CLASSES
from reelcast.evaluation.metrics import f1_macro
from reelcast.progress import Progress
from reelcast.training.objectives import class_logits, corn_loss, modality_dropout

log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]


@dataclass
class TrainResult:
    """What a training run produced: per-epoch history and the best weights."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_f1: float = 0.0
    best_state: dict = field(default_factory=dict)
    stopped_early: bool = False
    seconds: float = 0.0
    batch_size: int = 0  # the batch and learning rate the run used (data-sized, see scaled_for)
    lr: float = 0.0
    stopped_by: str = ""  # "patience", "steps" or "seconds" when it ended before the epoch limit


def seed_everything(seed: int) -> None:
    """Seed torch and numpy so initialisation, shuffling and dropout repeat."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def class_weights(y: np.ndarray, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Inverse-frequency weights n / (K * count), 0 for a class the training films lack."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(num_classes)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(w, dtype=torch.float32)


def take(inputs: Batch, idx: torch.Tensor, device: torch.device) -> Batch:
    """Rows `idx` of every input tensor, on the device, in float32 (the store keeps float16)."""
    out = {}
    for k, v in inputs.items():
        t = v[idx].to(device, non_blocking=True)
        out[k] = t.float() if t.is_floating_point() else t
    return out


def row_passes(n: int, rows: int, pad: bool = False) -> Iterator[tuple[torch.Tensor, int]]:
    """Row indices of n films in passes of `rows`, with each pass's count of real rows. pad=True makes
    every pass exactly `rows` long (the last padded with its first row): matrix products take another
    kernel (another summation order) for another row count, so a fixed count makes a film's output
    independent of its batch, bit for bit."""
    for start in range(0, n, rows):
        real = min(rows, n - start)
        idx = torch.arange(start, start + real)
        yield (torch.cat([idx, idx[:1].expand(rows - real)]) if pad else idx), real


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    inputs: Batch,
    device: torch.device,
    batch_size: int = 256,
    raw: bool = False,
    pass_rows: int = 0,
) -> torch.Tensor:
    """Class logits for every film in `inputs`, in order, on the CPU (raw=True: the output layer;
    pass_rows > 0: in passes of exactly that many rows, see `row_passes`)."""
    model.eval()
    fn = model.forward_raw if raw else model
    passes = row_passes(len(inputs["mask"]), pass_rows or batch_size, pad=pass_rows > 0)
    out = [fn(take(inputs, idx, device))[:real].cpu() for idx, real in passes]
    return torch.cat(out) if out else torch.zeros(0, NUM_CLASSES)


def scaled_for(cfg: TrainConfig, n_train: int) -> TrainConfig:
    """The config with batch size and learning rate sized to n training films.

    Up to cfg.scale_films films the configured batch_size and lr are used as they are. Beyond, the batch
    grows in proportion to the films (rounded down to a power-of-two multiple, at most max_batch_size),
    so an epoch takes about the same number of optimiser steps whatever the catalogue, and lr grows with
    the square root of the batch growth (the usual rule for Adam-type optimisers). scale_films=0 turns
    the rule off: batch_size and lr are then exactly what is set.
    """
    if cfg.scale_films <= 0 or n_train <= cfg.scale_films:
        return cfg
    growth = 2 ** int(math.floor(math.log2(n_train / cfg.scale_films)))
    batch = max(cfg.batch_size, min(cfg.batch_size * growth, cfg.max_batch_size))
    if batch == cfg.batch_size:
        return cfg
    return dataclasses.replace(cfg, batch_size=batch, lr=cfg.lr * math.sqrt(batch / cfg.batch_size))


@contextmanager
def torch_threads_for(films: int, cfg: TrainConfig) -> Iterator[None]:
    """torch's intra-op threads while a network scores `films` films: cfg.threads, else one on few films.

    One film's (or a small batch's) passes give each operation microseconds of work; a second thread
    then waits more than it helps, and on a busy machine spins a whole core (a cached plot served in
    1.4-2.7 s on two threads, 0.1-0.3 s on one, same answer). Training keeps torch's default: on a quiet
    2-core machine the demo's network trained faster on two threads.
    """
    threads = cfg.threads or (1 if films < cfg.parallel_films else 0)
    previous = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; a fine-tuned text backbone gets its own (smaller) learning rate."""
    backbone = list(model.text_backbone.parameters()) if hasattr(model, "text_backbone") else []
    ids = {id(p) for p in backbone}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups = [{"params": rest, "lr": cfg.lr}]
    if backbone:
        groups.append({"params": backbone, "lr": cfg.text_lr})
    # The fused kernel is several times faster than the default for the small fusion network on CPU.
    try:
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    except (RuntimeError, TypeError):  # devices or old torch builds without a fused AdamW
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig):
    """ReduceLROnPlateau on validation loss (default), cosine annealing, or none."""
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience
        )
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    if cfg.scheduler == "none":
        return None
    raise ValueError(f"scheduler must be plateau, cosine or none, got {cfg.scheduler!r}")


def train_model(
    model: nn.Module,
    train: Batch,
    y_train: np.ndarray,
    val: Batch,
    y_val: np.ndarray,
    cfg: TrainConfig,
    device: torch.device,
    modality_drop: float = 0.0,
    progress: bool = True,
    desc: str = "train",
    regression_target: np.ndarray | None = None,
    regression_weight: float = 1.0,
    aux_target: np.ndarray | None = None,
) -> TrainResult:
    """Train until early stopping; the model is left holding the best validation-F1 weights.

    regression_target: the training films' standardised log revenue, for the multitask objective.
    aux_target: (n_train, k) standardised aux targets (NaN: unknown) for a model with aux outputs.
    """
    objective = getattr(getattr(model, "spec", None), "objective", "classify")
    if objective == "multitask" and regression_target is None:
        raise ValueError("the multitask objective needs the training films' log revenue")
    reg = (
        None
        if objective != "multitask"
        else (torch.as_tensor(regression_target, dtype=torch.float32), regression_weight)
    )
    aux = None if aux_target is None else torch.as_tensor(aux_target, dtype=torch.float32)
    cfg = scaled_for(cfg, len(y_train))
    previous_threads = torch.get_num_threads()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(
            model, train, y_train, val, y_val, cfg, device, modality_drop, progress, desc, objective, reg, aux
        )
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    model,
    train,
    y_train,
    val,
    y_val,
    cfg,
    device,
    modality_drop,
    progress,
    desc,
    objective="classify",
    reg=None,
    aux=None,
) -> TrainResult:
    t0 = time.perf_counter()
    model.to(device)
    weights = class_weights(y_train).to(device) if cfg.class_balanced else None
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    ddp = distributed.DDPRank(model, cfg, device) if distributed.ddp_training() else None
    if ddp is not None and aux is not None:
        raise ValueError("distributed training does not support aux targets (model.aux_targets)")
    if ddp is not None and objective != "classify":
        raise ValueError(f"distributed training supports model.objective=classify only, not {objective!r}")
    if ddp is not None:
        progress = progress and distributed.is_main()
    yt = torch.as_tensor(y_train, dtype=torch.long)
    yv = torch.as_tensor(y_val, dtype=torch.long).to(device)
    n = len(yt)
    result = TrainResult(batch_size=cfg.batch_size, lr=cfg.lr)
    best_key = (-1.0, float("inf"))
    bad_epochs = 0
    steps = 0

    # The bar's total is the epoch limit; early stopping can end the stage sooner (the ETA is an upper bound).
    bar = Progress(cfg.epochs, desc, "epoch", enabled=progress)
    for epoch in range(1, cfg.epochs + 1):
        # ---- one pass over the training films, in a seeded random order
        model.train()
        perm = torch.randperm(n, generator=gen)
        total_loss, correct, seen = 0.0, 0, 0
        if ddp is not None:
            ddp.start_epoch(epoch)
            perm, step = ddp.shard(perm), ddp.batch_size
        else:
            step = cfg.batch_size
        for i in range(0, len(perm), step):
            idx = perm[i : i + step]
            if len(idx) < 2 < n:
                continue  # batch norm cannot train on a single film; it is in another batch next epoch
            batch = take(train, idx, device)
            target = yt[idx].to(device)
            if ddp is not None:
                batch["mask"] = modality_dropout(batch["mask"], modality_drop, ddp.gen)
                logits, loss, batch_loss = ddp.step_loss(batch, target, weights)
            else:
                batch["mask"] = modality_dropout(batch["mask"], modality_drop, gen)
                raw, aux_pred = (
                    model.forward_with_aux(batch) if aux is not None else (model.forward_raw(batch), None)
                )
                logits = class_logits(raw, objective)
                loss = corn_loss(raw, target, weights) if objective == "corn" else loss_fn(logits, target)
                if aux is not None:
                    loss = loss + model.aux_loss(aux_pred, aux[idx].to(device))
                if reg is not None:
                    r_target, r_weight = reg
                    loss = loss + r_weight * nn.functional.huber_loss(raw[:, -1], r_target[idx].to(device))
                batch_loss = loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip, foreach=True)
            opt.step()
            total_loss += batch_loss.item() * len(idx)
            correct += (logits.argmax(1) == target).sum().item()
            seen += len(idx)
            steps += 1
        if ddp is not None:  # over every rank's films (the sampler pads n up to a multiple of the ranks)
            total_loss, correct, n_seen = ddp.sum(total_loss), ddp.sum(correct), ddp.sum(seen)

        # ---- validation: loss drives the LR schedule, macro-F1 picks the best epoch
        val_logits = predict_logits(model, val, device).to(device)
        val_loss = loss_fn(val_logits, yv).item() if len(yv) else float("nan")
        val_pred = val_logits.argmax(1).cpu().numpy()
        val_acc = float((val_pred == y_val).mean()) if len(y_val) else float("nan")
        val_f1 = f1_macro(y_val, val_pred)
        if ddp is not None:  # every rank takes rank 0's numbers, so all stop at the same epoch
            val_loss, val_acc, val_f1 = ddp.from_rank0(val_loss, val_acc, val_f1)
        lr = opt.param_groups[0]["lr"]
        row = {
            "epoch": epoch,
            "train_loss": total_loss / max(n if ddp is None else n_seen, 1),
            "train_acc": correct / max(n if ddp is None else n_seen, 1),
            "val_loss": val_loss,
            "val_acc": val_acc,
            "val_macro_f1": val_f1,
            "lr": lr,
        }
        result.history.append(row)
        bar.update()
        bar.set_postfix(
            loss=f"{row['train_loss']:.3f}",
            acc=f"{row['train_acc']:.2f}",
            val_loss=f"{val_loss:.3f}",
            val_acc=f"{val_acc:.2f}",
            val_f1=f"{val_f1:.3f}",
        )
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(val_loss)
        elif sched is not None:
            sched.step()

        # ---- early stopping on macro-F1, ties broken by the lower validation loss
        key = (val_f1, -val_loss)
        if key > (best_key[0], -best_key[1]):
            best_key = (val_f1, val_loss)
            result.best_epoch, result.best_val_f1 = epoch, val_f1
            result.best_state = copy.deepcopy(model.state_dict())
            bad_epochs = 0
        else:
            bad_epochs += 1
            if bad_epochs >= cfg.patience:
                result.stopped_early, result.stopped_by = True, "patience"
                break
        # ---- budgets: whole epochs only, so every rank stops after the same epoch
        if cfg.max_steps and steps >= cfg.max_steps and epoch < cfg.epochs:
            result.stopped_by = "steps"
            break
        if cfg.max_seconds and epoch < cfg.epochs:
            elapsed = time.perf_counter() - t0
            if ddp is not None:  # rank 0's clock decides for all, or the ranks would part ways
                (elapsed,) = ddp.from_rank0(elapsed)
            if elapsed >= cfg.max_seconds:
                result.stopped_by = "seconds"
                break
    model.load_state_dict(result.best_state)
    if ddp is not None:
        ddp.close()
    result.seconds = time.perf_counter() - t0
    budget = {
        "patience": ", stopped early",
        "steps": ", step budget reached",
        "seconds": ", time budget reached",
    }
    note = (
        f"best epoch {result.best_epoch} (val macro-F1 {result.best_val_f1:.3f}); "
        f"batch {cfg.batch_size}, lr {cfg.lr:.2g}, {steps} steps{budget.get(result.stopped_by, '')}"
    )
    if progress:
        bar.close(note)
    else:
        log.debug("%s: %d epochs in %.1f s; %s", desc, len(result.history), result.seconds, note)
    return result
