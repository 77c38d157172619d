"""Reading and writing the configuration: TOML lines, nested tables applied to the dataclasses, values
converted to each field's type."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any


def toml_line(key: str, value: Any) -> str:
    """One `key = value` line of TOML (an unset value is written as a comment)."""
    if value is None:
        return f"# {key} = (unset)"
    if isinstance(value, bool):
        return f"{key} = {'true' if value else 'false'}"
    if isinstance(value, (int, float)):
        return f"{key} = {value!r}"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{key} = "{escaped}"'
    if isinstance(value, list):
        return f"{key} = [{', '.join(toml_line('x', v).split(' = ', 1)[1] for v in value)}]"
    raise TypeError(f"cannot write {key}={value!r} to TOML")


def apply(obj: Any, d: dict[str, Any], prefix: str) -> None:
    """Set a dataclass's fields from a nested dict, refusing unknown keys and converting each value."""
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in d.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise KeyError(f"unknown config key {full!r} (known: {', '.join(sorted(names))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"config key {full!r} is a section; give a table")
            apply(current, value, f"{full}.")
        else:
            setattr(obj, key, coerce(value, hints[key], full))


def coerce(value: Any, hint: Any, name: str) -> Any:
    """Convert a TOML/CLI value to the annotated field type."""
    args = typing.get_args(hint)
    if value is None:
        if type(None) in args:
            return None
        raise ValueError(f"config key {name!r} cannot be empty")
    base = [a for a in args if a is not type(None)] if args and typing.get_origin(hint) is not list else []
    if base:  # Optional[X] / X | None
        hint = base[0]
    origin = typing.get_origin(hint)
    if origin is list:
        (inner,) = typing.get_args(hint)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return [coerce(v, inner, name) for v in value]
    try:
        if hint is bool:
            if isinstance(value, str):
                if value.lower() in ("true", "1", "yes"):
                    return True
                if value.lower() in ("false", "0", "no"):
                    return False
                raise ValueError
            return bool(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if hint is float:
            return float(value)
        if hint is str:
            return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"config key {name!r}: {value!r} is not a valid {hint.__name__}") from None
    return value
