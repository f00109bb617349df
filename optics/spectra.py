"""Solar spectrum, photon flux, short-circuit current and EQE.

The reference spectrum is the ASTM G173-03 global tilt (AM1.5G) table shipped
with pvlib (``pvlib.spectrum.get_reference_spectra``), 280-4000 nm, integrated
irradiance 1000.37 W/m^2 by the trapezoid rule.

Units: wavelength in nm, spectral irradiance in W m^-2 nm^-1, photon flux in
photons s^-1 m^-2 nm^-1, current density in mA/cm^2.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Elementary charge, C (CODATA 2018, exact).
Q_E = 1.602176634e-19
#: Planck constant, J s (exact).
H_PLANCK = 6.62607015e-34
#: Speed of light in vacuum, m/s (exact).
C_LIGHT = 299792458.0
#: Boltzmann constant, J/K (exact).
K_B = 1.380649e-23
#: h*c in eV nm, to convert photon energy E (eV) = HC_EV_NM / wavelength (nm).
HC_EV_NM = H_PLANCK * C_LIGHT / Q_E * 1e9


@lru_cache(maxsize=1)
def am15g_table() -> tuple[np.ndarray, np.ndarray]:
    """The ASTM G173-03 global spectrum on its native grid.

    Returns
    -------
    wavelengths_nm : ndarray, shape [2002]
        280-4000 nm (0.5 nm steps below 400 nm, 1 nm to 1700 nm, 5 nm above).
    irradiance : ndarray, shape [2002]
        Spectral irradiance, W m^-2 nm^-1.

    References
    ----------
    ASTM G173-03, Standard Tables for Reference Solar Spectral Irradiances,
    via ``pvlib.spectrum.get_reference_spectra(standard="ASTM G173-03")``.
    """
    import pvlib

    table = pvlib.spectrum.get_reference_spectra(standard="ASTM G173-03")
    wl = table.index.to_numpy(dtype=float)
    irr = table["global"].to_numpy(dtype=float)
    wl.setflags(write=False)
    irr.setflags(write=False)
    return wl, irr


def photon_energy_ev(wavelengths_nm) -> np.ndarray:
    """Photon energy in eV for wavelengths in nm."""
    return HC_EV_NM / np.asarray(wavelengths_nm, dtype=float)


def _check_wavelengths(wavelengths_nm) -> np.ndarray:
    """A non-empty 1-D float array of finite wavelengths > 0 nm, else ValueError."""
    wl = np.asarray(wavelengths_nm, dtype=float)
    if wl.ndim != 1 or wl.size == 0:
        raise ValueError(f"wavelengths_nm must be a non-empty 1-D array, got shape {wl.shape}")
    if not np.all(np.isfinite(wl)) or np.any(wl <= 0):
        bad = wl[~np.isfinite(wl) | (wl <= 0)][0]
        raise ValueError(f"wavelengths_nm must be finite and > 0 nm, got {bad}")
    return wl


def am15g_irradiance(wavelengths_nm) -> np.ndarray:
    """AM1.5G spectral irradiance in W m^-2 nm^-1, linearly interpolated.

    Zero outside the tabulated 280-4000 nm (the table carries no light there).
    """
    wl = _check_wavelengths(wavelengths_nm)
    ref_wl, ref_irr = am15g_table()
    return np.interp(wl, ref_wl, ref_irr, left=0.0, right=0.0)


def am15g_photon_flux(wavelengths_nm) -> np.ndarray:
    """AM1.5G spectral photon flux in photons s^-1 m^-2 nm^-1.

    Phi(lambda) = E(lambda) * lambda / (h c), lambda in metres.
    """
    wl = _check_wavelengths(wavelengths_nm)
    return am15g_irradiance(wl) * wl * 1e-9 / (H_PLANCK * C_LIGHT)


def _integration_grid(wl: np.ndarray) -> np.ndarray:
    """The user grid merged with the native G173 points inside its range."""
    ref_wl, _ = am15g_table()
    inside = ref_wl[(ref_wl > wl.min()) & (ref_wl < wl.max())]
    return np.union1d(wl, inside)


def jsc(absorptance, wavelengths_nm, iqe=1.0, spectrum=None) -> np.ndarray:
    """Short-circuit current density in mA/cm^2 from an absorptance spectrum.

    Jsc = q * integral( IQE(lambda) * A(lambda) * Phi(lambda) dlambda ),
    over the span of ``wavelengths_nm`` only.

    A and IQE (smooth) are interpolated linearly onto the union of the user's
    grid and the native ASTM G173 grid, where the spiky spectrum is exact, and
    integrated by the trapezoid rule. So a coarse optical grid does not alias
    the atmospheric absorption lines.

    Parameters
    ----------
    absorptance : array_like, shape [..., n_wavelengths]
        Absorptance (or EQE when ``iqe`` = 1) in [0, 1]; leading axes are kept
        (for example a batch of designs or one row per layer).
    wavelengths_nm : array_like, shape [n_wavelengths]
        Increasing wavelengths, nm.
    iqe : float or array_like broadcastable to ``absorptance``
        Internal quantum efficiency, 0..1.
    spectrum : callable, optional
        ``spectrum(wavelengths_nm)`` -> photon flux, photons s^-1 m^-2 nm^-1.
        Defaults to AM1.5G (then the native-grid refinement is used).

    Returns
    -------
    ndarray, shape [...]
        Jsc in mA/cm^2.
    """
    wl = _check_wavelengths(wavelengths_nm)
    if np.any(np.diff(wl) <= 0):
        raise ValueError("wavelengths_nm must be strictly increasing")
    a = np.asarray(absorptance, dtype=float) * np.asarray(iqe, dtype=float)
    if a.shape[-1] != wl.size:
        raise ValueError(
            f"absorptance has {a.shape[-1]} wavelengths on its last axis, wavelengths_nm has {wl.size}"
        )
    if spectrum is None:
        grid = _integration_grid(wl)
        flux = am15g_photon_flux(grid)
        idx = np.searchsorted(wl, grid, side="right") - 1
        idx = np.clip(idx, 0, wl.size - 2) if wl.size > 1 else np.zeros_like(idx)
        if wl.size > 1:
            frac = (grid - wl[idx]) / (wl[idx + 1] - wl[idx])
            a_fine = a[..., idx] * (1 - frac) + a[..., idx + 1] * frac
        else:
            a_fine = a[..., idx]
    else:
        grid = wl
        flux = np.asarray(spectrum(wl), dtype=float)
        a_fine = a
    # photons/s/m^2 -> A/m^2 -> mA/cm^2 (1 A/m^2 = 0.1 mA/cm^2)
    return Q_E * np.trapezoid(a_fine * flux, grid, axis=-1) * 0.1


def eqe(absorptance, iqe=1.0) -> np.ndarray:
    """External quantum efficiency EQE = IQE * A, clipped to [0, 1].

    ``absorptance`` is the absorptance of the photo-active layer(s), shape
    [..., n_wavelengths]; ``iqe`` broadcasts against it.
    """
    iqe = np.asarray(iqe, dtype=float)
    if np.any((iqe < 0) | (iqe > 1)):
        raise ValueError("iqe must lie in [0, 1]")
    return np.clip(np.asarray(absorptance, dtype=float) * iqe, 0.0, 1.0)
