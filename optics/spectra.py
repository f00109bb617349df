"""Illumination spectra, photon flux, short-circuit current, EQE and physical constants.

The one owner of these in the project: ``tandem`` (detailed balance, limits) and the
study reports import them from here.

Spectra are named: "AM1.5G" (ASTM G173-03 global tilt, the default), "AM1.5D" (G173 direct
+ circumsolar), "AM0" (G173 extraterrestrial), all from the table shipped with pvlib
(``pvlib.spectrum.get_reference_spectra``, 280-4000 nm), or any name given to
``register_spectrum``. AM1.5G integrates to 1000.37 W/m^2 by the trapezoid rule.

Units: wavelength in nm, spectral irradiance in W m^-2 nm^-1, photon flux in
photons s^-1 m^-2 nm^-1, current density in mA/cm^2, power density in mW/cm^2.

References
----------
ASTM G173-03, Standard Tables for Reference Solar Spectral Irradiances.
CODATA 2018 (exact SI defining constants): Tiesinga et al., Rev. Mod. Phys. 93, 025010 (2021).
"""
from __future__ import annotations

import os
import zipfile
from functools import lru_cache
from typing import Callable

import numpy as np

from .grid import check_wavelengths

__all__ = [
    "Q_E", "H_PLANCK", "C_LIGHT", "K_B", "HC_EV_NM", "MA_CM2_PER_PHOTON_FLUX",
    "SPECTRA", "register_spectrum", "spectrum_table", "incident_power_mw_cm2",
    "irradiance", "photon_flux", "am15g_table", "am15g_irradiance", "am15g_photon_flux",
    "photon_energy_ev", "jsc_weights", "spectral_kernel", "trapezoid_weights", "interpolation_matrix", "jsc", "photocurrent_below", "eqe",
]

# The SI-defining constants (CODATA 2018, exact), the same floats as scipy.constants.e, .h, .c, .k
# (tests/test_startup.py checks they are equal); written out because importing scipy.constants
# pulls in scipy's array-API layer, ~0.2 s of CLI start-up.
#: Elementary charge, C (exact).
Q_E = 1.602176634e-19
#: Planck constant, J s (exact).
H_PLANCK = 6.62607015e-34
#: Speed of light in vacuum, m/s (exact).
C_LIGHT = 299792458.0
#: Boltzmann constant, J/K (exact).
K_B = 1.380649e-23
#: h*c in eV nm, to convert photon energy E (eV) = HC_EV_NM / wavelength (nm)
#: (``nkdata.models.HC_EV_NM`` is the same expression).
HC_EV_NM = H_PLANCK * C_LIGHT / Q_E * 1e9
#: A photon flux in s^-1 m^-2 times this is a current density in mA/cm^2 (q, then 1 A/m^2 = 0.1 mA/cm^2).
MA_CM2_PER_PHOTON_FLUX = Q_E * 0.1

#: The built-in spectra (ASTM G173-03 columns).
SPECTRA = ("AM1.5G", "AM1.5D", "AM0")
_G173_COLUMNS = {"AM1.5G": "global", "AM1.5D": "direct", "AM0": "extraterrestrial"}
_USER_SPECTRA: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _g173_cache_file():
    """Where the G173 columns read through pvlib are kept between runs (None: no cache).

    Importing pvlib costs ~0.7 s, most of a CLI start-up; the table it ships is fixed for
    one pvlib release, so it is stored once per pvlib version beside the other qdtandem caches.
    """
    from importlib import metadata
    from pathlib import Path

    try:
        version = metadata.version("pvlib")
    except metadata.PackageNotFoundError:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qdtandem" / f"astm-g173-03-pvlib-{version}.npz"


def _g173_columns() -> dict[str, np.ndarray]:
    cache = _g173_cache_file()
    if cache is not None:
        try:
            with np.load(cache) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass   # absent, unreadable or cut short: read through pvlib again below
    import pvlib

    table = pvlib.spectrum.get_reference_spectra(standard="ASTM G173-03")
    cols = {"wavelength": table.index.to_numpy(dtype=float)}
    cols.update({c: table[c].to_numpy(dtype=float) for c in _G173_COLUMNS.values()})
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp.npz")
            np.savez(tmp, **cols)
            os.replace(tmp, cache)   # atomic: a concurrent reader sees the old or the whole file
        except OSError:
            pass   # read-only home: keep it in memory only
    return cols


@lru_cache(maxsize=4)
def _g173(column: str) -> tuple[np.ndarray, np.ndarray]:
    cols = _g173_columns()
    wl = np.array(cols["wavelength"], dtype=float)
    irr = np.array(cols[column], dtype=float)
    wl.setflags(write=False)
    irr.setflags(write=False)
    return wl, irr


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
    ASTM G173-03, via ``pvlib.spectrum.get_reference_spectra(standard="ASTM G173-03")``.
    """
    return _g173("global")


def register_spectrum(name: str, wavelengths_nm, irradiance_w_m2_nm) -> None:
    """Make a user spectrum available by name to every function that takes ``spectrum``.

    Parameters
    ----------
    name : str
        Any name but the built-in ones (``SPECTRA``); registering a name again replaces it.
    wavelengths_nm : array_like, shape [N], N >= 2
        Strictly increasing wavelengths, nm.
    irradiance_w_m2_nm : array_like, shape [N]
        Spectral irradiance, W m^-2 nm^-1, finite and >= 0. Zero outside the given range.

    Raises
    ------
    ValueError
        For a built-in name, a bad grid or a bad irradiance, naming the spectrum.
    """
    wl = check_wavelengths(wavelengths_nm, increasing=True, min_points=2,
                           what=f"spectrum {name!r}: wavelengths_nm")
    irr = np.asarray(irradiance_w_m2_nm, dtype=float)
    if irr.shape != wl.shape:
        raise ValueError(f"spectrum {name!r}: need irradiance of the same length as wavelengths_nm")
    if np.any(~np.isfinite(irr)) or np.any(irr < 0):
        raise ValueError(f"spectrum {name!r}: irradiance must be finite and >= 0")
    if name in SPECTRA:
        raise ValueError(f"spectrum name {name!r} is reserved for the ASTM G173 tables")
    wl, irr = wl.copy(), irr.copy()
    wl.setflags(write=False)
    irr.setflags(write=False)
    _USER_SPECTRA[name] = (wl, irr)
    for f in (incident_power_mw_cm2, _jsc_weights_cached, _cumulative_flux):
        f.cache_clear()


def spectrum_table(spectrum: str = "AM1.5G") -> tuple[np.ndarray, np.ndarray]:
    """A named spectrum on its native grid.

    Parameters
    ----------
    spectrum : str
        "AM1.5G" (default), "AM1.5D", "AM0" or a name given to ``register_spectrum``.

    Returns
    -------
    wavelengths_nm : ndarray, shape [N], read-only
        Strictly increasing wavelengths, nm.
    irradiance : ndarray, shape [N], read-only
        Spectral irradiance, W m^-2 nm^-1.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    if spectrum in _G173_COLUMNS:
        return _g173(_G173_COLUMNS[spectrum])
    if spectrum in _USER_SPECTRA:
        return _USER_SPECTRA[spectrum]
    raise ValueError(f"unknown spectrum {spectrum!r}; use one of {SPECTRA + tuple(_USER_SPECTRA)}")


@lru_cache(maxsize=16)
def incident_power_mw_cm2(spectrum: str = "AM1.5G") -> float:
    """Integrated irradiance of ``spectrum`` on its native grid (trapezoid rule), mW/cm^2.

    AM1.5G: 100.037 mW/cm^2. Every PCE of the project is relative to this.

    Parameters
    ----------
    spectrum : str
        A name accepted by ``spectrum_table``.

    Returns
    -------
    float
        Irradiance, mW/cm^2 (1 mW/cm^2 = 10 W/m^2).
    """
    wl, irr = spectrum_table(spectrum)
    return float(np.trapezoid(irr, wl)) * 0.1


def irradiance(wavelengths_nm, spectrum: str = "AM1.5G") -> np.ndarray:
    """Spectral irradiance of ``spectrum`` at given wavelengths.

    Linearly interpolated from the native table; zero outside it.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm (any order).
    spectrum : str
        A name accepted by ``spectrum_table``.

    Returns
    -------
    ndarray, shape [W]
        W m^-2 nm^-1.
    """
    wl = check_wavelengths(wavelengths_nm)
    ref_wl, ref_irr = spectrum_table(spectrum)
    return np.interp(wl, ref_wl, ref_irr, left=0.0, right=0.0)


def photon_flux(wavelengths_nm, spectrum: str = "AM1.5G") -> np.ndarray:
    """Spectral photon flux of ``spectrum`` at given wavelengths.

    Phi(lambda) = E(lambda) lambda / (h c), lambda in metres; zero outside the table.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm.
    spectrum : str
        A name accepted by ``spectrum_table``.

    Returns
    -------
    ndarray, shape [W]
        Photons s^-1 m^-2 nm^-1.
    """
    wl = check_wavelengths(wavelengths_nm)
    return irradiance(wl, spectrum) * wl * 1e-9 / (H_PLANCK * C_LIGHT)


def am15g_irradiance(wavelengths_nm) -> np.ndarray:
    """AM1.5G spectral irradiance: ``irradiance(wavelengths_nm, "AM1.5G")``.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm.

    Returns
    -------
    ndarray, shape [W]
        W m^-2 nm^-1 (ASTM G173-03 global tilt; 0 outside 280-4000 nm).
    """
    return irradiance(wavelengths_nm, "AM1.5G")


def am15g_photon_flux(wavelengths_nm) -> np.ndarray:
    """AM1.5G photon flux: ``photon_flux(wavelengths_nm, "AM1.5G")``.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm.

    Returns
    -------
    ndarray, shape [W]
        Photons s^-1 m^-2 nm^-1 (0 outside 280-4000 nm).
    """
    return photon_flux(wavelengths_nm, "AM1.5G")


def photon_energy_ev(wavelengths_nm) -> np.ndarray:
    """Photon energy E = hc / lambda.

    Parameters
    ----------
    wavelengths_nm : array_like, any shape
        Vacuum wavelengths, nm (> 0; not checked).

    Returns
    -------
    ndarray, shaped like ``wavelengths_nm``
        Photon energy, eV.
    """
    return HC_EV_NM / np.asarray(wavelengths_nm, dtype=float)


@lru_cache(maxsize=64)
def _jsc_weights_cached(wl_key: tuple, spectrum: str) -> np.ndarray:
    # the quantity is linear between the user's points; the spiky spectrum is exact on its own grid
    ref_wl, ref_irr = spectrum_table(spectrum)
    w = np.asarray(ref_irr, dtype=float) @ _spectral_kernel_cached(tuple(np.asarray(ref_wl, float).tolist()), wl_key,
                                                                  "photocurrent")
    w.setflags(write=False)
    return w


def jsc_weights(wavelengths_nm, spectrum: str = "AM1.5G") -> np.ndarray:
    """Quadrature weights w [W] such that Jsc (mA/cm^2) = EQE @ w under ``spectrum``.

    The EQE (or absorptance) is taken linear between the grid points and zero outside
    them; the product with the photon flux is integrated by the trapezoid rule on the
    union of the grid with the spectrum's native points inside it, so a coarse optical
    grid does not alias the atmospheric absorption lines. Cached per grid and spectrum,
    so a batch costs one matrix product.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W], W >= 2
        Strictly increasing wavelengths, nm.
    spectrum : str
        A name accepted by ``spectrum_table``.

    Returns
    -------
    ndarray, shape [W], read-only
        mA/cm^2 per unit EQE at each grid point.
    """
    wl = check_wavelengths(wavelengths_nm, increasing=True, min_points=2)
    spectrum_table(spectrum)  # unknown name -> ValueError before caching
    return _jsc_weights_cached(tuple(wl.tolist()), spectrum)


def jsc(absorptance, wavelengths_nm, iqe=1.0, spectrum: str | Callable | None = "AM1.5G") -> np.ndarray:
    """Short-circuit current density in mA/cm^2 from an absorptance (or EQE) spectrum.

    Jsc = q * integral( IQE(lambda) * A(lambda) * Phi(lambda) dlambda ) over the span of
    ``wavelengths_nm`` only, with the quadrature of ``jsc_weights``.

    Parameters
    ----------
    absorptance : array_like, shape [..., W]
        Absorptance (or EQE when ``iqe`` = 1) in [0, 1]; leading axes are kept
        (for example a batch of designs or one row per layer).
    wavelengths_nm : array_like, shape [W]
        Strictly increasing wavelengths, nm (a grid in micrometres or metres is refused).
    iqe : float or array_like broadcastable to ``absorptance``
        Internal quantum efficiency, 0..1.
    spectrum : str or callable, default "AM1.5G"
        A spectrum name (see ``spectrum_table``; None means AM1.5G), or a callable
        ``spectrum(wavelengths_nm)`` -> photon flux in photons s^-1 m^-2 nm^-1, which is
        then integrated on ``wavelengths_nm`` alone by the trapezoid rule.

    Returns
    -------
    ndarray, shape [...]
        Jsc in mA/cm^2 (0 for a single wavelength: an integral over no span).

    Examples
    --------
    >>> import numpy as np
    >>> wl = np.arange(300.0, 1101.0, 5.0)
    >>> round(float(jsc(np.ones_like(wl), wl)), 1)  # every photon 300-1100 nm
    43.5
    """
    wl = check_wavelengths(wavelengths_nm, increasing=True)
    a = np.asarray(absorptance, dtype=float) * np.asarray(iqe, dtype=float)
    if a.shape[-1:] != (wl.size,):
        raise ValueError(
            f"absorptance has {a.shape[-1] if a.ndim else 0} wavelengths on its last axis, "
            f"wavelengths_nm has {wl.size}"
        )
    if callable(spectrum):
        flux = np.asarray(spectrum(wl), dtype=float)
        return MA_CM2_PER_PHOTON_FLUX * np.trapezoid(a * flux, wl, axis=-1)
    name = "AM1.5G" if spectrum is None else spectrum
    if wl.size == 1:
        spectrum_table(name)
        return np.zeros(a.shape[:-1])
    return a @ jsc_weights(wl, name)


@lru_cache(maxsize=8)
def _cumulative_flux(spectrum: str):
    wl, irr = spectrum_table(spectrum)
    phi = irr * wl * 1e-9 / (H_PLANCK * C_LIGHT)  # photons s^-1 m^-2 nm^-1
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (phi[1:] + phi[:-1]) * np.diff(wl))])
    return wl, phi, cum


def photocurrent_below(wavelength_nm, spectrum: str = "AM1.5G") -> np.ndarray:
    """Current density of all photons of ``spectrum`` shorter than ``wavelength_nm``.

    The photocurrent of an ideal step absorber with its edge at ``wavelength_nm``: the
    linear interpolant of the tabulated photon flux integrated exactly from the start of
    the table up to the edge (the trapezoid rule on the native grid, plus the partial
    interval).

    Parameters
    ----------
    wavelength_nm : array_like, any shape
        Absorption-edge wavelength, nm; clipped to the table (280-4000 nm for G173).
    spectrum : str
        A name accepted by ``spectrum_table``.

    Returns
    -------
    ndarray, shaped like ``wavelength_nm``
        mA/cm^2 (one electron per photon).
    """
    wl, phi, cum = _cumulative_flux(spectrum)
    lam = np.clip(np.asarray(wavelength_nm, dtype=float), wl[0], wl[-1])
    i = np.clip(np.searchsorted(wl, lam, side="right") - 1, 0, wl.size - 2)
    f = (lam - wl[i]) / (wl[i + 1] - wl[i])
    phi_l = phi[i] + (phi[i + 1] - phi[i]) * f
    return MA_CM2_PER_PHOTON_FLUX * (cum[i] + 0.5 * (phi[i] + phi_l) * (lam - wl[i]))


def eqe(absorptance, iqe=1.0) -> np.ndarray:
    """External quantum efficiency EQE = IQE * A, clipped to [0, 1].

    Parameters
    ----------
    absorptance : array_like, shape [..., W]
        Absorptance of the photo-active layer(s), 0..1.
    iqe : float or array_like broadcastable to ``absorptance``
        Internal quantum efficiency, 0..1 (ValueError otherwise).

    Returns
    -------
    ndarray, broadcast shape of ``absorptance`` and ``iqe``
        EQE, 0..1.
    """
    iqe = np.asarray(iqe, dtype=float)
    if np.any((iqe < 0) | (iqe > 1)):
        raise ValueError("iqe must lie in [0, 1]")
    return np.clip(np.asarray(absorptance, dtype=float) * iqe, 0.0, 1.0)


def trapezoid_weights(x) -> np.ndarray:
    """Weights t [N] with sum(t * y) = np.trapezoid(y, x) for samples y at increasing x."""
    x = np.asarray(x, dtype=float)
    t = np.zeros_like(x)
    dx = np.diff(x)
    t[:-1] += dx / 2
    t[1:] += dx / 2
    return t


def _hats(points: np.ndarray, nodes: np.ndarray):
    """Linear interpolation from ``nodes`` onto ``points`` as (left index [P], weights of the left and
    right node [P] each), zero outside the nodes."""
    idx = np.clip(np.searchsorted(nodes, points, side="right") - 1, 0, nodes.size - 2)
    frac = np.clip((points - nodes[idx]) / (nodes[idx + 1] - nodes[idx]), 0.0, 1.0)
    inside = (points >= nodes[0]) & (points <= nodes[-1])
    return idx, np.where(inside, 1 - frac, 0.0), np.where(inside, frac, 0.0)


def interpolation_matrix(points, nodes) -> np.ndarray:
    """M [P, N] with M @ y = y (given at increasing ``nodes``) linearly interpolated onto ``points``,
    zero outside the nodes."""
    points = np.asarray(points, dtype=float)
    nodes = np.asarray(nodes, dtype=float)
    idx, left, right = _hats(points, nodes)
    m = np.zeros((points.size, nodes.size))
    rows = np.arange(points.size)
    m[rows, idx] = left
    m[rows, idx + 1] += right
    return m


@lru_cache(maxsize=32)
def _spectral_kernel_cached(spec_key: tuple, wl_key: tuple, quantity: str) -> np.ndarray:
    s = np.asarray(spec_key)
    wl = np.asarray(wl_key)
    grid = np.union1d(wl, s[(s > wl[0]) & (s < wl[-1])])
    tw = trapezoid_weights(grid)
    if quantity == "photocurrent":
        tw = tw * grid * 1e-9 / (H_PLANCK * C_LIGHT) * MA_CM2_PER_PHOTON_FLUX
    si, sl, sr = _hats(grid, s)      # spectrum onto the union grid
    wi, wl_, wr = _hats(grid, wl)    # response onto the union grid
    k = np.zeros((s.size, wl.size))
    for ds, a in ((0, sl), (1, sr)):
        for dw, b in ((0, wl_), (1, wr)):
            np.add.at(k, (si + ds, wi + dw), tw * a * b)
    k.setflags(write=False)
    return k


def spectral_kernel(wavelengths_nm, spectrum_wavelengths_nm, quantity: str = "photocurrent") -> np.ndarray:
    """Matrix K [S, W] for many spectra at once: ``irradiance @ K @ response``.

    For spectral irradiances E [..., S] (W m^-2 nm^-1) sampled on ``spectrum_wavelengths_nm``
    and a response R [W] (EQE, absorptance, transmittance) on ``wavelengths_nm``,
    ``E @ K @ R`` is the photocurrent q int R E lambda/(hc) dlambda in mA/cm^2
    (``quantity="photocurrent"``) or the power int R E dlambda in W/m^2 (``"power"``), over
    the span of ``wavelengths_nm``. Same quadrature as ``jsc_weights``: the response linear
    between its grid points, the spectrum linear between its own, the product integrated by
    the trapezoid rule on the union of both grids (for a named spectrum on its native grid,
    ``irradiance @ K`` equals ``jsc_weights``). Cached per pair of grids.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W], W >= 2
        Strictly increasing wavelengths of the response, nm.
    spectrum_wavelengths_nm : array_like, shape [S], S >= 2
        Strictly increasing wavelengths of the spectra, nm.
    quantity : {"photocurrent", "power"}, default "photocurrent"
        What ``E @ K @ R`` gives: mA/cm^2 of one electron per photon, or W/m^2.

    Returns
    -------
    ndarray, shape [S, W], read-only
        (mA/cm^2 or W/m^2) per (W m^-2 nm^-1 of irradiance x unit response).
    """
    if quantity not in ("photocurrent", "power"):
        raise ValueError(f"quantity must be 'photocurrent' or 'power', got {quantity!r}")
    wl = check_wavelengths(wavelengths_nm, increasing=True, min_points=2)
    sw = check_wavelengths(spectrum_wavelengths_nm, increasing=True, min_points=2)
    return _spectral_kernel_cached(tuple(sw.tolist()), tuple(wl.tolist()), quantity)
