"""Material and Provenance records: the objects that nkdata hands to the optics."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Provenance", "Material", "TabulatedNK"]

CATEGORIES = ("substrate", "tco", "etl", "absorber", "htl", "electrode", "bottom_absorber", "ar", "medium")


@dataclass(frozen=True)
class Provenance:
    """Where a material's n,k come from.

    Attributes
    ----------
    source : str
        Citation of the data or model (authors, journal, year, database page).
    doi : str
        DOI of the source ("" when there is none).
    licence : str
        Licence of the data or of the model parameters.
    kind : {"measured", "modelled"}
        "measured": tabulated or fitted-formula data from a measurement; "modelled":
        dispersion model with literature or fitted parameters (ValueError otherwise).
    notes : str
        Free text (sample, range, extensions).
    rms_vs_reference : float
        RMS |nk_model - nk_ref| over the reference range (see ``nkdata.fitting``), NaN
        when there is no reference.
    reference : str
        What the RMS was computed against.
    """

    source: str
    doi: str
    licence: str
    kind: str
    notes: str = ""
    rms_vs_reference: float = float("nan")  # RMS |nk_model - nk_ref| over the reference range
    reference: str = ""  # what the RMS was computed against

    def __post_init__(self):
        if self.kind not in ("measured", "modelled"):
            raise ValueError(f"Provenance.kind must be 'measured' or 'modelled', got {self.kind!r}")


@dataclass(frozen=True)
class TabulatedNK:
    """n,k on a wavelength grid with shape-preserving interpolation.

    Interpolation is PCHIP (monotone piecewise cubic Hermite, Fritsch-Carlson) separately in
    n and k, so no overshoot between points and k stays >= 0. Outside the grid (reached only
    through a Material with extrapolate=True) the end values are held constant.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [N], N >= 2
        Strictly ascending vacuum wavelengths, nm.
    n, k : array_like, shape [N]
        Refractive index and extinction coefficient (k >= 0).

    References
    ----------
    F. N. Fritsch & R. E. Carlson, SIAM J. Numer. Anal. 17, 238 (1980)
    (``scipy.interpolate.PchipInterpolator``).
    """

    wavelengths_nm: np.ndarray
    n: np.ndarray
    k: np.ndarray

    def __post_init__(self):
        # The checks PchipInterpolator makes, kept at construction now that it is built lazily.
        wl = np.asarray(self.wavelengths_nm, float)
        if wl.ndim != 1 or wl.size < 2 or not np.all(np.diff(wl) > 0):
            raise ValueError("TabulatedNK needs >= 2 strictly ascending wavelengths")
        for name in ("n", "k"):
            v = np.asarray(getattr(self, name), float)
            if v.shape != wl.shape or not np.all(np.isfinite(v)):
                raise ValueError(f"TabulatedNK {name} must be finite, shaped like the wavelengths")

    def _interpolants(self):
        # Built at the first evaluation, not at construction: loading a study file builds every
        # catalogue material it names, and importing scipy.interpolate (~0.25 s) is then paid
        # only by a run that evaluates one. A race builds the same interpolants twice, harmlessly.
        pn = self.__dict__.get("_pn")
        if pn is None:
            from scipy.interpolate import PchipInterpolator

            wl = np.asarray(self.wavelengths_nm, float)
            pn = PchipInterpolator(wl, np.asarray(self.n, float), extrapolate=True)
            pk = PchipInterpolator(wl, np.asarray(self.k, float), extrapolate=True)
            object.__setattr__(self, "_pk", pk)
            object.__setattr__(self, "_pn", pn)
        return pn, self.__dict__["_pk"]

    def __call__(self, wavelengths_nm):
        """n + ik at vacuum wavelengths in nm (any shape, same shape out)."""
        w = np.asarray(self.wavelengths_nm, float)
        wl = np.clip(np.asarray(wavelengths_nm, float), w[0], w[-1])
        pn, pk = self._interpolants()
        n = pn(wl)
        k = np.maximum(pk(wl), 0.0)
        return n + 1j * k


@dataclass(frozen=True)
class Material:
    """A named optical material: complex index n + ik (k >= 0) versus wavelength in nm.

    ``nk(wl)`` (or calling the material) evaluates it; asking outside
    [wl_min_nm, wl_max_nm] raises ValueError naming the material and its range, unless
    the material was built with ``extrapolate=True`` (then tabulated data is held at its
    end values and models are evaluated as they are). Build catalogue materials with
    ``nkdata.get``.

    Attributes
    ----------
    name : str
    category : str
        One of ``CATEGORIES`` (ValueError otherwise).
    provenance : Provenance
    wl_min_nm, wl_max_nm : float
        Valid wavelength range, nm, 0 < wl_min_nm < wl_max_nm.
    func : callable
        Vacuum wavelength (nm, array) -> n + ik.
    bandgap_ev : float or None
        Absorption onset of an absorber, eV (see ``nkdata.tunable``).
    extrapolate : bool
        Evaluate outside [wl_min_nm, wl_max_nm] instead of refusing.
    tunable : bool
        The catalogue accepts ``bandgap_ev`` for this material.
    bandgap_range_ev : (float, float) or None
        Allowed band-gap range of a tunable material, eV.
    build_args : tuple or None
        (name, bandgap_ev, extrapolate) to rebuild a catalogue material on unpickling.
    """

    name: str
    category: str
    provenance: Provenance
    wl_min_nm: float
    wl_max_nm: float
    func: Callable = field(repr=False, compare=False)
    bandgap_ev: float | None = None
    extrapolate: bool = False
    tunable: bool = False
    bandgap_range_ev: tuple | None = None
    build_args: tuple | None = field(default=None, repr=False, compare=False)  # (name, bandgap_ev, extrapolate)

    def __post_init__(self):
        if self.category not in CATEGORIES:
            raise ValueError(f"material {self.name!r}: unknown category {self.category!r}; use one of {CATEGORIES}")
        if not (0 < self.wl_min_nm < self.wl_max_nm):
            raise ValueError(f"material {self.name!r}: bad range {self.wl_min_nm}-{self.wl_max_nm} nm")

    def nk(self, wavelengths_nm) -> np.ndarray:
        """Complex index n + ik at vacuum wavelengths.

        Parameters
        ----------
        wavelengths_nm : array_like, any shape
            Vacuum wavelengths, nm: finite, > 0 and inside [wl_min_nm, wl_max_nm]
            unless ``extrapolate``.

        Returns
        -------
        complex ndarray, shaped like ``wavelengths_nm``

        Raises
        ------
        ValueError
            Naming the material (and its range when asked outside it).
        """
        wl = np.asarray(wavelengths_nm, dtype=float)
        if wl.size == 0:
            return np.zeros(wl.shape, complex)
        if not np.all(np.isfinite(wl)) or np.any(wl <= 0):
            raise ValueError(f"material {self.name!r}: wavelengths must be finite and > 0 nm")
        if not self.extrapolate:
            lo, hi = float(wl.min()), float(wl.max())
            tol = 1e-9 * self.wl_max_nm
            if lo < self.wl_min_nm - tol or hi > self.wl_max_nm + tol:
                raise ValueError(
                    f"material {self.name!r} is valid for {self.wl_min_nm:g}-{self.wl_max_nm:g} nm, "
                    f"asked for {lo:g}-{hi:g} nm (pass extrapolate=True to nkdata.get to evaluate outside)")
        out = np.asarray(self.func(wl), dtype=complex)
        return out.reshape(wl.shape)

    __call__ = nk

    def eps(self, wavelengths_nm) -> np.ndarray:
        """Relative permittivity (n + ik)^2 at vacuum wavelengths in nm (as ``nk``)."""
        nk = self.nk(wavelengths_nm)
        return nk * nk

    @property
    def kind(self) -> str:
        """``provenance.kind``: "measured" or "modelled"."""
        return self.provenance.kind

    def __reduce__(self):
        # catalogue materials pickle by name (their functions are closures), so they can be sent to
        # worker processes; other materials pickle field by field
        from .library import _rebuild

        if self.build_args is not None:
            return (_rebuild, tuple(self.build_args) + (self.category,))
        return (_restore, (self.__class__, {f: getattr(self, f) for f in self.__dataclass_fields__}))


def _restore(cls, fields):
    return cls(**fields)
