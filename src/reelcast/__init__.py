"""reelcast: predict a film's box-office revenue class from its plot, trailer pictures and sound."""

import os

# OpenMP threads that spin while waiting make torch many times slower whenever another process wants
# the same cores (benchmarks/train.py --busy measures it). A purely passive wait costs the small fusion
# network half its speed when alone, as every operation then wakes a sleeping thread; a short spin
# (GOMP_SPINCOUNT, torch's libgomp) keeps most of both: benchmarks/train.py compares the three.
# Only effective if set before torch loads, and the user's own settings win.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GOMP_SPINCOUNT", "2000")

from reelcast.data.classes import CLASS_NAMES  # noqa: E402

__version__ = "0.1.0"

__all__ = ["CLASS_NAMES", "RevenuePredictor", "Config", "__version__"]


def __getattr__(name: str):
    # Lazy so `import reelcast` stays cheap (no torch import) for tools that only need the names.
    if name == "RevenuePredictor":
        from reelcast.predictor import RevenuePredictor

        return RevenuePredictor
    if name == "Config":
        from reelcast.config import Config

        return Config
    raise AttributeError(name)
