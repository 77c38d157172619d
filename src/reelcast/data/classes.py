"""The eight ordered revenue classes and the binning of revenue into them."""

from __future__ import annotations

import numpy as np

CLASS_NAMES: list[str] = [
    "Disaster",
    "Flop",
    "Successful",
    "Average",
    "Hit",
    "Outstanding",
    "Superhit",
    "Blockbuster",
]
NUM_CLASSES = len(CLASS_NAMES)


def fit_quantile_thresholds(revenue_musd: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Equal-frequency edges (ascending, length num_classes-1) from the given (training) revenues."""
    r = np.asarray(revenue_musd, dtype=np.float64)
    if r.size < num_classes:
        raise ValueError(
            f"need at least {num_classes} films to fit {num_classes} quantile classes, got {r.size}"
        )
    qs = np.linspace(0, 1, num_classes + 1)[1:-1]
    edges = np.quantile(r, qs)
    check_revenue_spread(r, edges)
    # Heavy ties (many identical revenues) can give equal edges; nudge them apart so every class exists.
    for i in range(1, len(edges)):
        if edges[i] <= edges[i - 1]:
            edges[i] = np.nextafter(edges[i - 1], np.inf)
    return edges


def check_revenue_spread(revenue_musd: np.ndarray, edges: np.ndarray | None = None) -> None:
    """Refuse revenues that give fewer than two distinct class edges: classes would be meaningless."""
    r = np.asarray(revenue_musd, dtype=np.float64)
    if edges is None:
        edges = np.quantile(r, np.linspace(0, 1, NUM_CLASSES + 1)[1:-1]) if r.size else np.array([])
    distinct = np.unique(edges)
    if distinct.size < 2:
        values = np.unique(r)
        what = (
            f"every film has revenue {values[0]:g} M$"
            if values.size == 1
            else f"{values.size} distinct revenues"
        )
        raise ValueError(
            f"the revenues give {distinct.size} distinct class edge(s) ({what}); at least two are needed "
            "for the classes to mean anything. Check the revenue column and its unit"
        )


def check_thresholds(edges: list[float] | np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Validate explicit edges: num_classes-1 strictly ascending numbers."""
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size != num_classes - 1:
        raise ValueError(f"thresholds: need {num_classes - 1} edges for {num_classes} classes, got {e.size}")
    if not np.all(np.diff(e) > 0):
        raise ValueError(f"thresholds must be strictly ascending, got {e.tolist()}")
    return e


def assign_classes(revenue_musd: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Class index per film: class k holds revenues in [edge[k-1], edge[k])."""
    return np.searchsorted(
        np.asarray(edges), np.asarray(revenue_musd, dtype=np.float64), side="right"
    ).astype(np.int64)


def describe_thresholds(edges: np.ndarray) -> list[dict]:
    """Human-readable class ranges in millions, for reports and the API."""
    out = []
    lo = 0.0
    for k, name in enumerate(CLASS_NAMES):
        hi = float(edges[k]) if k < len(edges) else None
        out.append({"class": k, "name": name, "min_musd": lo, "max_musd": hi})
        lo = hi if hi is not None else lo
    return out


def constant_dollar_revenue(films) -> np.ndarray:
    """Revenue (millions) of a canonical film frame in CPI base-year dollars (data/cpi_us.csv).

    A film without a year cannot be deflated: that is an error naming how many and which lines.
    """
    from reelcast.data.cpi import outside_table, to_constant_dollars

    years = np.array([np.nan if v is None or v != v else float(v) for v in films["year"]], dtype=np.float64)
    missing = ~np.isfinite(years)
    if missing.any():
        lines = films["line"].to_numpy()[missing] if "line" in films else np.flatnonzero(missing)
        raise ValueError(
            f"constant-dollar classes need each film's year; {int(missing.sum())} films have none "
            f"(lines {', '.join(map(str, lines[:5]))}{', ...' if missing.sum() > 5 else ''})"
        )
    n_out = outside_table(years)
    if n_out:
        import logging

        logging.getLogger(__name__).warning(
            "%d films fall outside the CPI table's years and take its nearest year's prices", n_out
        )
    return to_constant_dollars(films["revenue_musd"].to_numpy(dtype=np.float64), years)
