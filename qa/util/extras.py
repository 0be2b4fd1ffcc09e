"""Optional packages: Ray, Ray Serve, pymilvus and milvus-lite come with the ``scale`` extra.

The chat and `qa ask` / `qa index` on one machine need none of them; a feature that does says
which extra to install instead of failing with an ImportError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

SCALE_INSTALL = 'pip install -e ".[scale]"'
# Which package of the extra each importable module comes from, for the message.
PACKAGES = {"ray": "Ray", "ray.serve": "Ray Serve", "pymilvus": "pymilvus", "milvus_lite": "milvus-lite"}


class MissingExtra(ImportError):
    """A feature's optional package is not installed; the message says how to install it."""


def missing_message(module: str, feature: str) -> str:
    package = PACKAGES.get(module, module)
    return f"{feature} needs {package}, which is not installed: {SCALE_INSTALL} (Ray, Ray Serve, pymilvus, milvus-lite)"


def require(module: str, feature: str) -> ModuleType:
    """``module`` imported, or ``MissingExtra`` saying that ``feature`` needs the scale extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        detail = f" ({exc.name} is missing)" if exc.name and exc.name not in (module, module.split(".")[0]) else ""
        raise MissingExtra(missing_message(module, feature) + detail) from None
