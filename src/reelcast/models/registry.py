"""Model components by name: `register_component("name")(cls)`, `create_component("name")`.

The run's components are named in `ensemble.components`; a checkpoint names each saved component, so
loading rebuilds it from the registry. A new component is its own module plus one registration. The
built-in ones register when `reelcast.models` is imported (its __init__ imports their modules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reelcast.models.base import Component

_REGISTRY: dict[str, type[Component]] = {}


def register_component(name: str) -> Callable[[type[Component]], type[Component]]:
    """Class decorator: make a Component subclass available under `name`."""

    def add(cls: type[Component]) -> type[Component]:
        if not (isinstance(cls, type) and issubclass(cls, Component)):
            raise TypeError(f"{cls!r} is not a reelcast.models.base.Component subclass")
        known = _REGISTRY.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"component name {name!r} is taken by {known.__module__}.{known.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return add


def component_class(name: str) -> type[Component]:
    """The class registered under `name`; the error lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model component {name!r}; known: {', '.join(list_components())}") from None


def create_component(name: str, **kwargs: Any) -> Component:
    """A new, unfitted component of the class registered under `name`."""
    return component_class(name)(**kwargs)


def list_components() -> list[str]:
    """Every registered component name, sorted."""
    return sorted(_REGISTRY)
