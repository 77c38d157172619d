"""The components a saved model is made of: the fusion network, gradient-boosted trees, their blend."""

from reelcast.models.components import TREE_COMPONENTS, TreeEnsemble
from reelcast.models.ensemble import Blend, decide, fit_blend, simplex_grid
from reelcast.models.fusion import FusionModel, ModelSpec
from reelcast.models.stacking import TextStack
from reelcast.models.trees import GBMClassifier, GBMRegressor, gaussian_class_probs

__all__ = [
    "TREE_COMPONENTS",
    "Blend",
    "FusionModel",
    "GBMClassifier",
    "GBMRegressor",
    "ModelSpec",
    "TextStack",
    "TreeEnsemble",
    "decide",
    "fit_blend",
    "gaussian_class_probs",
    "simplex_grid",
]
