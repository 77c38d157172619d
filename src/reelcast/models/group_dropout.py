"""Group dropout for the network and the trees: training rows that lack optional inputs, as new films do."""

from __future__ import annotations

import numpy as np

from reelcast.config import TabularConfig
from reelcast.features.tabular import TabularEncoder

MODES = ("augment", "replace")


def training_rows(
    enc: TabularEncoder | None,
    X: np.ndarray,
    settings: TabularConfig,
    rng: np.random.Generator,
    fill: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The rows to train on, built from the training films' features X (its first `enc.dim` columns the
    tabular block; later columns are copied as they are), and which film (row of X) each row is.

    The first len(X) rows are the films in order. `replace` makes each optional input unknown for a
    `settings.group_dropout` share of them; `augment` keeps them as they are and appends one copy of every
    film in which each optional input is unknown with that probability, drawn again until at least one is
    (at 0.5 every non-empty set of them is equally likely)."""
    n, rate, mode = len(X), settings.group_dropout, settings.group_dropout_mode
    if mode not in MODES:
        raise ValueError(f"tabular.group_dropout_mode {mode!r} is not one of {', '.join(MODES)}")
    if enc is None or rate <= 0 or not enc.optional_inputs:
        return X, np.arange(n)
    if mode == "replace":
        out = np.array(X, copy=True)
        out[:, : enc.dim] = enc.group_dropout(X[:, : enc.dim], rate, rng, fill=fill)
        return out, np.arange(n)
    inputs = list(enc.optional_inputs)
    drop = np.zeros((n, len(inputs)), dtype=bool)
    while len(empty := np.flatnonzero(~drop.any(1))):
        drop[empty] = rng.random((len(empty), len(inputs))) < rate
    copies = np.array(X, copy=True)
    for j, i in enumerate(inputs):
        copies[:, : enc.dim] = enc.mask_inputs(copies[:, : enc.dim], drop[:, j], [i], fill=fill)
    return np.concatenate([X, copies.astype(X.dtype)]), np.concatenate([np.arange(n), np.arange(n)])
