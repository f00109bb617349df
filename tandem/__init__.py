"""tandem: device performance from optics.

Subcell detailed balance from the computed EQE (Rau reciprocity, ERE, Rs/Rsh/ideality),
2-terminal and 4-terminal tandems, semitransparent cells (AVT, LUE, colour), and the
detailed-balance limits of step absorbers.

>>> from tandem import Subcell, Design, evaluate, evaluate_batch
"""
from .device import (
    BatchResult,
    Design,
    DeviceResult,
    Subcell,
    SubcellResult,
    evaluate,
    evaluate_batch,
    lambertian_absorptance,
)
from .electrical import PRESETS
from .limits import best_tandem_pair, sq_limit, tandem_limit

__all__ = [
    "Subcell", "Design", "evaluate", "evaluate_batch", "DeviceResult", "SubcellResult", "BatchResult",
    "PRESETS", "sq_limit", "tandem_limit", "best_tandem_pair", "lambertian_absorptance",
]
