"""The textured surfaces of a wafer as a design states them: ``Texture`` (one interface) and
``WaferTexture`` (front and rear). What the kinds mean and how they are traced: ``optics.texture``.
Kept apart from the tracing code so that a design (``tandem.Design.texture``) can hold one without
importing it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KINDS", "DEFAULT_FACET_DEG", "Texture", "WaferTexture"]

KINDS = ("random_upright", "regular_upright", "regular_inverted", "planar", "lambertian")
DEFAULT_FACET_DEG = 54.74


@dataclass(frozen=True)
class Texture:
    """Geometry of one textured interface.

    kind : one of ``optics.texture.KINDS``.
    facet_deg : angle between a facet and the mean plane, degrees, in (0, 90).
    """

    kind: str = "random_upright"
    facet_deg: float = DEFAULT_FACET_DEG

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"texture: unknown kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        f = float(self.facet_deg)
        if not (np.isfinite(f) and 0 < f < 90):
            raise ValueError(f"texture facet_deg must lie in (0, 90) degrees, got {self.facet_deg}")
        object.__setattr__(self, "facet_deg", f)

    @property
    def traced(self) -> bool:
        return self.kind not in ("planar", "lambertian")


@dataclass(frozen=True)
class WaferTexture:
    """The two textured surfaces of a wafer. Defaults: random upright pyramids (pointing out of
    the wafer) on both sides, as after alkaline etching of a <100> wafer."""

    front: Texture = Texture()
    rear: Texture = Texture()

    def __post_init__(self):
        for side in ("front", "rear"):
            if not isinstance(getattr(self, side), Texture):
                raise ValueError(f"texture.{side} must be an optics.texture.Texture, got {getattr(self, side)!r}")
