"""Custom models by import path: ``--model py:<module-or-file.py>:<attribute>``.

The attribute is a pydantic-ai ``Model`` or a callable (a class or a factory) that returns
one when called with no arguments. Enterprises use it for internal gateways; tests and
benchmarks use it for scripted models. ``<module>`` is a dotted module name importable from
the current environment, or a path to a ``.py`` file (relative to the current directory).

May import: the standard library and ``specloom.errors``; pydantic-ai inside ``load``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specloom.errors import UsageError

if TYPE_CHECKING:
    from pydantic_ai.models import Model

__all__ = ["PREFIX", "is_custom", "load_custom_model"]

PREFIX = "py:"

_HINT = (
    "Write it as py:<module>:<attribute> or py:<path/to/file.py>:<attribute>, where the "
    "attribute is a pydantic-ai Model or a function returning one."
)


def is_custom(spec: str) -> bool:
    """Whether a ``--model`` value names a custom model."""
    return spec.startswith(PREFIX)


def load_custom_model(spec: str) -> Model:
    """Import and build the model a ``py:`` spec names.

    Raises:
        UsageError: The spec is malformed, the module or file cannot be imported, the
            attribute is missing, or it is not (and does not return) a pydantic-ai model.
    """
    from pydantic_ai.models import Model

    target = spec[len(PREFIX) :]
    location, sep, attribute = target.rpartition(":")
    if not sep or not location or not attribute.isidentifier():
        raise UsageError(f"malformed custom model {spec!r}", hint=_HINT)
    module = _import(location, spec)
    if not hasattr(module, attribute):
        raise UsageError(f"{location} has no attribute {attribute!r} (from {spec!r})", hint=_HINT)
    value: Any = getattr(module, attribute)
    if isinstance(value, Model):
        return value
    if callable(value):
        try:
            built = value()
        except Exception as error:  # user code: report whatever it raised, with its type
            raise UsageError(
                f"{spec} raised {type(error).__name__} when called: {error}", hint=_HINT
            ) from error
        if isinstance(built, Model):
            return built
        raise UsageError(
            f"{spec} returned {type(built).__name__}, not a pydantic-ai Model", hint=_HINT
        )
    raise UsageError(f"{spec} is a {type(value).__name__}, not a pydantic-ai Model", hint=_HINT)


def _import(location: str, spec: str) -> Any:
    if location.endswith(".py") or "/" in location or "\\" in location:
        path = Path(location).expanduser().resolve()
        if not path.is_file():
            raise UsageError(f"custom model file not found: {location} (from {spec!r})", hint=_HINT)
        name = f"specloom_custom_model_{abs(hash(str(path)))}"
        if name in sys.modules:
            return sys.modules[name]
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise UsageError(f"cannot import {location} (from {spec!r})", hint=_HINT)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as error:  # user code: report whatever it raised, with its type
            del sys.modules[name]
            raise UsageError(
                f"importing {location} raised {type(error).__name__}: {error}", hint=_HINT
            ) from error
        return module
    try:
        return importlib.import_module(location)
    except ImportError as error:
        raise UsageError(f"cannot import module {location!r}: {error}", hint=_HINT) from error
