"""The one wavelength-grid check of the project.

Every function that takes ``wavelengths_nm`` (the solvers, the absorption profile, the
spectra and Jsc, the detailed-balance weights, AVT and colour, ``tandem.Design``)
validates it here, so that one grid gets one answer and one error message everywhere.
"""
from __future__ import annotations

import numpy as np

__all__ = ["check_wavelengths", "MIN_PLAUSIBLE_NM"]

#: A grid whose longest wavelength is below this is taken to be in the wrong unit
#: (micrometres or metres): no solar-cell optics happens below 100 nm.
MIN_PLAUSIBLE_NM = 100.0


def check_wavelengths(wavelengths_nm, *, increasing: bool = False, min_points: int = 1,
                      what: str = "wavelengths_nm") -> np.ndarray:
    """Validate a wavelength grid in nm and return it as a float array.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W] (a scalar is taken as [1])
        Vacuum wavelengths, nm. Must be finite and > 0, and reach at least
        ``MIN_PLAUSIBLE_NM`` (100 nm) so that a grid in micrometres or metres is refused.
    increasing : bool, default False
        Also require strictly increasing values (any quadrature over the grid does).
    min_points : int, default 1
        Least number of points (2 for an integral over the grid).
    what : str
        Name of the argument in the error message.

    Returns
    -------
    ndarray of float, shape [W]

    Raises
    ------
    ValueError
        One line naming ``what`` and the first offending value.
    """
    wl = np.asarray(wavelengths_nm)
    if np.iscomplexobj(wl):
        raise ValueError(f"{what} must be real wavelengths in nm, got complex values")
    try:
        wl = np.atleast_1d(wl.astype(float))
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers (wavelengths in nm), got {wavelengths_nm!r}") from None
    if wl.ndim != 1 or wl.size < max(min_points, 1):
        need = "a non-empty" if min_points <= 1 else f"at least {min_points} points in a"
        raise ValueError(f"{what} must be {need} 1-D array, got shape {wl.shape}")
    bad = ~np.isfinite(wl) | (wl <= 0)
    if np.any(bad):
        raise ValueError(f"{what} must be finite and > 0 nm, got {wl[bad][0]}")
    if wl.max() < MIN_PLAUSIBLE_NM:
        raise ValueError(
            f"{what} reach only {wl.max():g}: wavelengths are in nm "
            "(did you pass micrometres or metres? multiply by 1000 or 1e9)"
        )
    if increasing and np.any(np.diff(wl) <= 0):
        raise ValueError(f"{what} must be strictly increasing (nm)")
    return wl
