"""The one table of metric names a person reads, and which metrics the reports lead with."""

from __future__ import annotations

METRIC_LABELS = {
    "accuracy": "accuracy",
    "f1_macro": "macro-F1",
    "f1_weighted": "weighted F1",
    "one_away_accuracy": "1-away accuracy",
    "mae_class": "class MAE",
    "qwk": "QWK",
    "precision_macro": "macro precision",
    "recall_macro": "macro recall",
    "precision_weighted": "weighted precision",
    "recall_weighted": "weighted recall",
    "ece": "ECE (calibration)",
    "log_loss": "log loss",
    "brier": "Brier",
}
# The headline metrics of the run page and the split comparison, in the order they are shown.
HEADLINE = ["accuracy", "f1_macro", "f1_weighted", "one_away_accuracy", "mae_class", "qwk"]


def metric_label(key: str) -> str:
    """The label of a metric key (its key with spaces where the table has none)."""
    return METRIC_LABELS.get(key, key.replace("_", " "))


# The per-arm metrics of the A/B report (`reelcast ab-report`), in the order it shows them.
AB_METRICS = ("accuracy", "one_away_accuracy", "qwk", "mae_class", "ece", "log_loss", "brier")
