"""Report files: JSON, CSV and PNG charts in the run folder, each written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reelcast.data.classes import CLASS_NAMES  # noqa: E402
from reelcast.files import atomic_write, atomic_write_json, atomic_write_text  # noqa: E402


def save_figure(fig, path: Path) -> None:
    """Write a matplotlib figure as PNG atomically and close it."""
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)


def write_json(path: Path, obj: Any) -> None:
    """JSON, atomically."""
    atomic_write_json(path, obj)


def write_csv(path: Path, df: pd.DataFrame) -> None:
    """CSV, atomically."""
    atomic_write_text(path, df.to_csv(index=False))


def training_curves(history: list[dict], path: Path, title: str = "") -> None:
    """Loss, accuracy and learning rate per epoch, training vs validation, as a PNG file."""
    save_figure(training_curves_figure(history, title), path)


def training_curves_figure(history: list[dict], title: str = ""):
    """The training-curves figure (for a file or an inline report image)."""
    h = pd.DataFrame(history)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    axes[0].plot(h["epoch"], h["train_loss"], label="train")
    axes[0].plot(h["epoch"], h["val_loss"], label="validation")
    axes[0].set_title("loss (class-weighted cross-entropy)")
    axes[1].plot(h["epoch"], h["train_acc"], label="train")
    axes[1].plot(h["epoch"], h["val_acc"], label="validation")
    axes[1].plot(h["epoch"], h["val_macro_f1"], label="validation macro-F1", linestyle="--")
    axes[1].set_title("accuracy")
    axes[2].plot(h["epoch"], h["lr"])
    axes[2].set_yscale("log")
    axes[2].set_title("learning rate")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend()
    axes[1].legend()
    if title:
        fig.suptitle(title)
    return fig


def confusion_matrix_png(cm: list[list[int]], path: Path, title: str = "") -> None:
    """Confusion matrix with the class names on both axes (rows = true class)."""
    m = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    im = ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(
                j,
                i,
                str(m[i, j]),
                ha="center",
                va="center",
                color="white" if m[i, j] > m.max() / 2 else "black",
                fontsize=8,
            )
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title or "confusion matrix (test films)")
    save_figure(fig, path)


def format_table(df: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    """A plain fixed-width text table for the terminal and the log."""
    cells = [[str(c) for c in df.columns]]
    for _, row in df.iterrows():
        cells.append([floatfmt.format(v) if isinstance(v, float) else str(v) for v in row])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = [
        "  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
