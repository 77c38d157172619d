"""Group dropout for the network and the trees: training rows that lack optional inputs, as new films do."""

from __future__ import annotations

import numpy as np

from reelcast.config import TabularConfig
from reelcast.features.tabular import TabularEncoder

MODES = ("replace", "augment")


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
    `settings.group_dropout` share of them; `augment` keeps them as they are and appends one copy of each
    film that the same draw masks (copies with nothing masked would only repeat the film)."""
    n, rate, mode = len(X), settings.group_dropout, settings.group_dropout_mode
    if mode not in MODES:
        raise ValueError(f"tabular.group_dropout_mode {mode!r} is not one of {', '.join(MODES)}")
    if enc is None or rate <= 0 or not enc.optional_inputs:
        return X, np.arange(n)
    if mode == "replace":
        out = np.array(X, copy=True)
        out[:, : enc.dim] = enc.group_dropout(X[:, : enc.dim], rate, rng, fill=fill)
        return out, np.arange(n)
    drop = {i: rng.random(n) < rate for i in enc.optional_inputs}
    films = np.flatnonzero(np.any(list(drop.values()), axis=0))
    copies = np.array(X[films], copy=True)
    for i, rows in drop.items():
        copies[:, : enc.dim] = enc.mask_inputs(copies[:, : enc.dim], rows[films], [i], fill=fill)
    return np.concatenate([X, copies.astype(X.dtype)]), np.concatenate([np.arange(n), films])
