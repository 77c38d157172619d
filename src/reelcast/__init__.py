"""reelcast: predict a film's box-office revenue class from its plot, trailer pictures and sound."""

from reelcast.labels import CLASS_NAMES

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
