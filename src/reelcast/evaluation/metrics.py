"""Classification, ordinal and probability metrics for the eight revenue classes (pure numpy, fast).

Each label metric equals scikit-learn's (labels 0..7, zero_division=0; tests/evaluation/test_metrics.py
checks them against sklearn.metrics) but is computed from one np.bincount confusion matrix, because the
bootstrap calls every metric once per resample: `python benchmarks/metrics.py --resamples 200` measured
26-64x less time per call than sklearn.metrics on 1000 films (f1_macro 37 us vs 2351 us), and a split's
test_ci of all ten metrics 0.22 s instead of 5.65 s. `f1_macro` here is the project's one macro-F1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reelcast.data.classes import CLASS_NAMES, NUM_CLASSES

# Scalar metrics in the order reports list them; every name is a key of classification_metrics() and of
# metric_fns().
SCALAR_METRICS: list[str] = [
    "accuracy",
    "one_away_accuracy",
    "mae_class",
    "qwk",
    "f1_macro",
    "f1_weighted",
    "precision_macro",
    "recall_macro",
    "precision_weighted",
    "recall_weighted",
]

# Metrics where a smaller value is better; everything else in this module is higher-is-better.
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {"mae_class", "log_loss", "brier", "ece", "ranked_probability_score"}
)

# sklearn's log_loss clips probabilities to [eps, 1 - eps] with the float64 machine epsilon; we do the same so
# the numbers agree and a confident wrong prediction costs a large but finite amount.
_EPS = float(np.finfo(np.float64).eps)


def _as_labels(y: np.ndarray, num_classes: int, what: str) -> np.ndarray:
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D array of class indices, got shape {a.shape}")
    if a.dtype.kind not in "iu":
        if a.dtype.kind not in "fb" or (a.size and not np.all(np.isfinite(a) & (a == np.round(a)))):
            raise ValueError(f"{what}: class indices must be integers")
        a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() >= num_classes):
        raise ValueError(f"{what}: class indices must lie in [0, {num_classes}), got {a.min()}..{a.max()}")
    return a.astype(np.int64, copy=False)


def _check_pair(y_true, y_pred, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    t = _as_labels(y_true, num_classes, "y_true")
    p = _as_labels(y_pred, num_classes, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    if t.size == 0:
        raise ValueError("metrics need at least one film")
    return t, p


def _confusion(t: np.ndarray, p: np.ndarray, num_classes: int) -> np.ndarray:
    # One bincount over the flattened (true, pred) cell index: much faster than sklearn for the bootstrap.
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def _prf(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix (or a stack), zero_division=0."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(np.float64)
    support = cm.sum(axis=-1).astype(np.float64)
    predicted = cm.sum(axis=-2).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        # 2tp / (support + predicted) is the harmonic mean of precision and recall, and is 0 (as in sklearn
        # with zero_division=0) when either of them is undefined or zero.
        denom = support + predicted
        f1 = np.where(denom > 0, 2.0 * tp / denom, 0.0)
    return precision, recall, f1, support


def _average_arrays(cm: np.ndarray) -> dict[str, np.ndarray]:
    # Averages run over ALL num_classes labels (sklearn's labels=range(num_classes)). A class absent from the
    # test films and never predicted counts as precision = recall = F1 = 0 in the macro average (so macro
    # scores are comparable across splits and bootstrap resamples, always dividing by num_classes), and has
    # weight 0 (its support) in the weighted average. A class predicted but never true has precision 0.
    precision, recall, f1, support = _prf(cm)
    weights = support / support.sum(axis=-1, keepdims=True)
    return {
        "precision_macro": precision.mean(-1),
        "recall_macro": recall.mean(-1),
        "f1_macro": f1.mean(-1),
        "precision_weighted": (precision * weights).sum(-1),
        "recall_weighted": (recall * weights).sum(-1),
        "f1_weighted": (f1 * weights).sum(-1),
    }


def _averages(cm: np.ndarray) -> dict[str, float]:
    return {k: float(v) for k, v in _average_arrays(cm).items()}


def _qwk_arrays(cm: np.ndarray) -> np.ndarray:
    """Quadratic weighted kappa of a confusion matrix or a stack of them (sklearn's cohen_kappa_score)."""
    k = cm.shape[-1]
    cm = cm.astype(np.float64)
    n = cm.sum(axis=(-2, -1))
    expected = cm.sum(axis=-1)[..., :, None] * cm.sum(axis=-2)[..., None, :] / n[..., None, None]
    idx = np.arange(k, dtype=np.float64)
    w = (idx[:, None] - idx[None, :]) ** 2
    denom = np.sum(w * expected, axis=(-2, -1))
    # The denominator is 0 only when truth and prediction are both one and the same single class; sklearn
    # returns nan there. We return 0.0 ("no agreement beyond chance is measurable") so means, bootstrap
    # percentiles and JSON reports stay finite.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom == 0.0, 0.0, 1.0 - np.sum(w * cm, axis=(-2, -1)) / denom)


def _qwk_from_confusion(cm: np.ndarray) -> float:
    """Quadratic weighted kappa as in sklearn's cohen_kappa_score(weights="quadratic")."""
    return float(_qwk_arrays(cm))


def _distance_share(cm: np.ndarray, weight: np.ndarray) -> np.ndarray:
    # Sum of weight[true, pred] over films / films, from (stacked) confusion matrices.
    return (cm * weight).sum(axis=(-2, -1)) / cm.sum(axis=(-2, -1))


def confusion_metric_fns(num_classes: int = NUM_CLASSES) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """name -> fn(confusions (..., K, K)) -> (...) for every name in SCALAR_METRICS: the bootstrap's
    vectorised form of metric_fns (one call scores every resample)."""
    idx = np.arange(num_classes)
    dist = np.abs(idx[:, None] - idx[None, :])
    fns: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "accuracy": lambda cm: _distance_share(cm, dist == 0),
        "one_away_accuracy": lambda cm: _distance_share(cm, dist <= 1),
        "mae_class": lambda cm: _distance_share(cm, dist),
        "qwk": _qwk_arrays,
    }
    for key in SCALAR_METRICS:
        if key not in fns:
            fns[key] = lambda cm, key=key: _average_arrays(cm)[key]
    return {name: fns[name] for name in SCALAR_METRICS}


def accuracy(y_true, y_pred, num_classes: int = NUM_CLASSES) -> float:
    """Share of films whose class is predicted exactly."""
    t, p = _check_pair(y_true, y_pred, num_classes)
    return float(np.mean(t == p))


def one_away_accuracy(y_true, y_pred, num_classes: int = NUM_CLASSES) -> float:
    """Share of films whose predicted class is at most one class away from the true one."""
    t, p = _check_pair(y_true, y_pred, num_classes)
    return float(np.mean(np.abs(t - p) <= 1))


def mae_class(y_true, y_pred, num_classes: int = NUM_CLASSES) -> float:
    """Mean absolute difference between predicted and true class index."""
    t, p = _check_pair(y_true, y_pred, num_classes)
    return float(np.mean(np.abs(t - p)))


def qwk(y_true, y_pred, num_classes: int = NUM_CLASSES) -> float:
    """Quadratic weighted Cohen's kappa over labels 0..num_classes-1 (0.0 where sklearn gives nan)."""
    t, p = _check_pair(y_true, y_pred, num_classes)
    return _qwk_from_confusion(_confusion(t, p, num_classes))


def f1_macro(y_true, y_pred, num_classes: int = NUM_CLASSES) -> float:
    """Macro-F1 over all num_classes labels (sklearn's f1_score(average="macro", zero_division=0))."""
    t, p = _check_pair(y_true, y_pred, num_classes)
    return _averages(_confusion(t, p, num_classes))["f1_macro"]


def confusion_matrix(y_true, y_pred, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """num_classes x num_classes count matrix, rows = true class, columns = predicted class."""
    t, p = _check_pair(y_true, y_pred, num_classes)
    return _confusion(t, p, num_classes)


def _class_name(k: int) -> str:
    return CLASS_NAMES[k] if k < len(CLASS_NAMES) else f"class_{k}"


def classification_metrics(y_true, y_pred, num_classes: int = NUM_CLASSES) -> dict:
    """All label metrics for one set of predictions: scalars (SCALAR_METRICS), confusion matrix, per-class."""
    t, p = _check_pair(y_true, y_pred, num_classes)
    cm = _confusion(t, p, num_classes)
    precision, recall, f1, support = _prf(cm)
    out: dict = {
        "n": int(t.size),
        "num_classes": int(num_classes),
        "accuracy": float(np.mean(t == p)),
        "one_away_accuracy": float(np.mean(np.abs(t - p) <= 1)),
        "mae_class": float(np.mean(np.abs(t - p))),
        "qwk": _qwk_from_confusion(cm),
    }
    out.update(_averages(cm))
    out["confusion_matrix"] = cm.astype(int).tolist()
    out["per_class"] = [
        {
            "class": k,
            "name": _class_name(k),
            "precision": float(precision[k]),
            "recall": float(recall[k]),
            "f1": float(f1[k]),
            "support": int(support[k]),
        }
        for k in range(num_classes)
    ]
    return out


def metric_fns(num_classes: int = NUM_CLASSES) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """name -> fn(y_true, y_pred) -> float for every name in SCALAR_METRICS (fast, for the bootstrap)."""

    def averaged(key: str) -> Callable[[np.ndarray, np.ndarray], float]:
        def fn(y_true, y_pred) -> float:
            t, p = _check_pair(y_true, y_pred, num_classes)
            return _averages(_confusion(t, p, num_classes))[key]

        fn.__name__ = key
        return fn

    fns: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
        "accuracy": lambda t, p: accuracy(t, p, num_classes),
        "one_away_accuracy": lambda t, p: one_away_accuracy(t, p, num_classes),
        "mae_class": lambda t, p: mae_class(t, p, num_classes),
        "qwk": lambda t, p: qwk(t, p, num_classes),
        "f1_macro": lambda t, p: f1_macro(t, p, num_classes),
    }
    for key in SCALAR_METRICS:
        if key not in fns:
            fns[key] = averaged(key)
    # Each carries its vectorised form, which the bootstrap uses when it is there.
    batched = confusion_metric_fns(num_classes)
    for name, fn in fns.items():
        fn.batched, fn.num_classes = batched[name], num_classes  # type: ignore[attr-defined]
    return {name: fns[name] for name in SCALAR_METRICS}


def _check_probs(y_true, probs) -> tuple[np.ndarray, np.ndarray]:
    pr = np.asarray(probs, dtype=np.float64)
    if pr.ndim != 2:
        raise ValueError(f"probs: expected shape (N, C), got {pr.shape}")
    t = _as_labels(y_true, pr.shape[1], "y_true")
    if t.size != pr.shape[0]:
        raise ValueError(f"y_true and probs differ in length: {t.size} vs {pr.shape[0]}")
    if t.size == 0:
        raise ValueError("metrics need at least one film")
    if not np.all(np.isfinite(pr)) or pr.min() < 0 or pr.max() > 1:
        raise ValueError("probs must be finite and within [0, 1]")
    # Loose tolerance: float32 softmax outputs are fine, logits passed by mistake are not.
    if not np.allclose(pr.sum(axis=1), 1.0, atol=1e-3, rtol=0):
        raise ValueError("each row of probs must sum to 1 (did you pass logits?)")
    return t, pr


def log_loss(y_true, probs) -> float:
    """Mean negative log-probability of the true class (multiclass cross-entropy), as sklearn's log_loss."""
    t, pr = _check_probs(y_true, probs)
    p_true = np.clip(pr[np.arange(t.size), t], _EPS, 1.0 - _EPS)
    return float(-np.mean(np.log(p_true)))


def brier(y_true, probs) -> float:
    """Multiclass Brier score: mean over films of sum_k (p_k - onehot_k)^2, in [0, 2]."""
    t, pr = _check_probs(y_true, probs)
    onehot = np.zeros_like(pr)
    onehot[np.arange(t.size), t] = 1.0
    return float(np.mean(np.sum((pr - onehot) ** 2, axis=1)))


def ranked_probability_score(y_true, probs) -> float:
    """Ranked probability score (the ordinal Brier score): squared error of the cumulative class
    probabilities against the true class's step, summed over the K - 1 class edges and divided by K - 1,
    then averaged over films; 0 is a certain correct forecast, 1 a certain forecast at the far end.

    Unlike log-loss and the Brier score it knows the classes are ordered: mass one class away from the
    truth costs less than mass seven classes away. A proper score, so it needs no decision rule.
    """
    t, pr = _check_probs(y_true, probs)
    k = pr.shape[1]
    if k < 2:
        raise ValueError("the ranked probability score needs at least two classes")
    cum = np.cumsum(pr, axis=1)[:, :-1]
    step = (np.arange(k - 1)[None, :] >= t[:, None]).astype(np.float64)
    return float(np.mean(np.sum((cum - step) ** 2, axis=1)) / (k - 1))


def proper_score_fns() -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """name -> fn(y_true, probs) -> float for the proper scores (lower is better), for the bootstrap."""
    return {"log_loss": log_loss, "ranked_probability_score": ranked_probability_score, "brier": brier}
