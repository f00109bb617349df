"""tandem: device performance from optics.

Subcell detailed balance from the computed EQE (Rau reciprocity, ERE, Rs/Rsh/ideality),
2-terminal and 4-terminal tandems, semitransparent cells (AVT, LUE, colour), and the
detailed-balance limits of step absorbers.

>>> from tandem import Subcell, Design, evaluate, evaluate_batch

The public names are imported on first use (PEP 562), so that ``tandem.vocabulary``
(device kinds, light-trapping models, metric names) costs nothing to import.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Subcell": "device", "Design": "device", "DeviceResult": "device", "SubcellResult": "device",
    "BatchResult": "device", "evaluate": "evaluation", "evaluate_batch": "evaluation",
    "lambertian_absorptance": "device",
    "PRESETS": "presets",
    "sq_limit": "limits", "tandem_limit": "limits", "best_tandem_pair": "limits",
}

__all__ = [
    "Subcell", "Design", "evaluate", "evaluate_batch", "DeviceResult", "SubcellResult", "BatchResult",
    "PRESETS", "sq_limit", "tandem_limit", "best_tandem_pair", "lambertian_absorptance",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__():
    return sorted(set(globals()) | set(__all__))
