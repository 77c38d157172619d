"""Model components with one interface (models.base), found by name (models.registry): the fusion
network, gradient-boosted trees, and whatever is registered next; their blend (models.ensemble).

Importing the package registers the built-in components.
"""

from reelcast.models.base import Component, FitData
from reelcast.models.basics import BasicsTrees
from reelcast.models.ensemble import Blend, Ensemble, decide, fit_blend, simplex_grid
from reelcast.models.fusion import FusionModel, ModelSpec
from reelcast.models.gbm import GBMClassifier, GBMRegressor, gaussian_class_probs
from reelcast.models.network import FusionNetwork, softmax
from reelcast.models.registry import component_class, create_component, list_components, register_component
from reelcast.models.stacking import TextStack
from reelcast.models.trees import TreeClassifier, TreeFeatures, TreeRegressor

__all__ = [
    "BasicsTrees",
    "Blend",
    "Component",
    "Ensemble",
    "FitData",
    "FusionModel",
    "FusionNetwork",
    "GBMClassifier",
    "GBMRegressor",
    "ModelSpec",
    "TextStack",
    "TreeClassifier",
    "TreeFeatures",
    "TreeRegressor",
    "component_class",
    "create_component",
    "decide",
    "fit_blend",
    "gaussian_class_probs",
    "list_components",
    "register_component",
    "simplex_grid",
    "softmax",
]
