"""Detailed balance from the computed EQE: photocurrent, radiative J0 by reciprocity, Voc,rad.

The radiative dark saturation current follows from the EQE by Rau's reciprocity
[Rau, Phys. Rev. B 76, 085303 (2007), eq. (8), doi:10.1103/PhysRevB.76.085303]::

    J0,rad = q * integral EQE(E) * phi_bb(E) dE,
    phi_bb(E) = 2 pi E^2 / (h^3 c^2) / (exp(E / kT) - 1)

(black-body photon flux into the hemisphere in front of the cell, n = 1), and the
radiative-limit open-circuit voltage is Voc,rad = kT/q ln(Jsc / J0,rad + 1). Both the
photocurrent (``optics.spectra.jsc_weights``) and J0,rad are linear functionals of the EQE,
written here as cached weight vectors so that a batch costs one matrix product.

Temperature is an explicit parameter of every function that depends on it.
Units: wavelength nm, temperature K, current density mA/cm^2, voltage V.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from optics.grid import check_wavelengths
from optics.spectra import C_LIGHT, H_PLANCK, K_B, MA_CM2_PER_PHOTON_FLUX, Q_E, jsc_weights

__all__ = ["thermal_voltage", "blackbody_photon_flux", "sun_weights", "reciprocity_weights", "jsc_from_eqe",
           "j0_rad_from_eqe", "voc_rad"]


def _check_temperature(temperature_k) -> np.ndarray:
    t = np.asarray(temperature_k, dtype=float)
    if np.any(~np.isfinite(t) | (t <= 0)):
        raise ValueError(f"temperature_k must be > 0 K, got {temperature_k}")
    return t


def thermal_voltage(temperature_k) -> np.ndarray:
    """Thermal voltage kT/q, V (0.025693 V at 298.15 K).

    Parameters
    ----------
    temperature_k : array_like
        Temperature, K, any shape.

    Returns
    -------
    ndarray, shaped like ``temperature_k``
        kT/q, V.
    """
    return K_B * np.asarray(temperature_k, dtype=float) / Q_E


def blackbody_photon_flux(wavelengths_nm, temperature_k: float) -> np.ndarray:
    """Black-body photon flux emitted into a hemisphere (n = 1), photons s^-1 m^-2 nm^-1.

    phi_bb(lambda) = 2 pi c / lambda^4 / (exp(hc / (lambda k T)) - 1), lambda in m, per nm.

    Parameters
    ----------
    wavelengths_nm : array_like
        Wavelengths, nm (> 0), any shape.
    temperature_k : float
        Temperature of the emitter, K (> 0).

    Returns
    -------
    ndarray, shaped like ``wavelengths_nm``

    References
    ----------
    Planck's law; Wuerfel, Physics of Solar Cells (Wiley-VCH, 2005), ch. 2.
    """
    lam = np.asarray(wavelengths_nm, dtype=float) * 1e-9
    x = H_PLANCK * C_LIGHT / (lam * K_B * float(temperature_k))
    with np.errstate(over="ignore"):
        return 2 * np.pi * C_LIGHT / lam**4 / np.expm1(x) * 1e-9


def _check_grid(wl) -> np.ndarray:
    return check_wavelengths(wl, increasing=True, min_points=2)


def sun_weights(wavelengths_nm, spectrum: str = "AM1.5G") -> np.ndarray:
    """Weights w [W] with Jsc (mA/cm^2) = EQE @ w under ``spectrum``: ``optics.spectra.jsc_weights``.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W], W >= 2
        Strictly increasing wavelengths, nm.
    spectrum : str, default "AM1.5G"
        A name accepted by ``optics.spectra.spectrum_table``.

    Returns
    -------
    ndarray, shape [W], read-only
        mA/cm^2 per unit EQE at each grid point.
    """
    return jsc_weights(wavelengths_nm, spectrum)


@lru_cache(maxsize=64)
def _bb_weights_cached(wl_key: tuple, temperature_k: float, oversample: int) -> np.ndarray:
    wl = np.asarray(wl_key)
    w_count = wl.size
    # piecewise-linear EQE between grid points, times the exponential black body, on a fine sub-grid
    t = np.linspace(0.0, 1.0, oversample + 1)
    weights = np.zeros(w_count)
    for i in range(w_count - 1):
        lam = wl[i] + (wl[i + 1] - wl[i]) * t
        phi = blackbody_photon_flux(lam, temperature_k)
        weights[i] += np.trapezoid((1 - t) * phi, lam)
        weights[i + 1] += np.trapezoid(t * phi, lam)
    weights *= MA_CM2_PER_PHOTON_FLUX
    weights.setflags(write=False)
    return weights


def reciprocity_weights(wavelengths_nm, temperature_k: float = 298.15, oversample: int = 16) -> np.ndarray:
    """Weights w [W] with J0,rad (mA/cm^2) = EQE @ w (Rau reciprocity).

    The EQE is taken linear between grid points and zero outside the grid; the black-body
    flux is integrated on ``oversample`` sub-points per interval (it changes by e every kT,
    ~25 meV). Cached per grid, temperature and oversampling.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W], W >= 2
        Strictly increasing wavelengths, nm.
    temperature_k : float
        Cell temperature, K (> 0).
    oversample : int, default 16
        Sub-points per grid interval (>= 1).

    Returns
    -------
    ndarray, shape [W], read-only
        mA/cm^2 per unit EQE at each grid point.

    References
    ----------
    U. Rau, Phys. Rev. B 76, 085303 (2007), eq. (8), doi:10.1103/PhysRevB.76.085303.
    """
    wl = _check_grid(wavelengths_nm)
    if not np.isfinite(temperature_k) or temperature_k <= 0:
        raise ValueError(f"temperature_k must be > 0, got {temperature_k}")
    return _bb_weights_cached(tuple(wl.tolist()), float(temperature_k), int(oversample))


def jsc_from_eqe(eqe, wavelengths_nm, spectrum: str = "AM1.5G") -> np.ndarray:
    """Short-circuit (photo)current from an EQE, mA/cm^2: the quadrature of ``optics.spectra.jsc``.

    Parameters
    ----------
    eqe : array_like, shape [..., W]
        External quantum efficiency, 0..1.
    wavelengths_nm : array_like, shape [W], W >= 2
        Strictly increasing wavelengths, nm.
    spectrum : str
        Illumination (``optics.spectra.spectrum_table``), default AM1.5G.

    Returns
    -------
    ndarray, shape [...]
        Jsc, mA/cm^2.
    """
    return np.asarray(eqe, dtype=float) @ jsc_weights(wavelengths_nm, spectrum)


def j0_rad_from_eqe(eqe, wavelengths_nm, temperature_k: float = 298.15) -> np.ndarray:
    """Radiative saturation current J0,rad from an EQE by reciprocity, mA/cm^2.

    Parameters
    ----------
    eqe : array_like, shape [..., W]
        External quantum efficiency, 0..1 (zero outside the grid).
    wavelengths_nm : array_like, shape [W], W >= 2
        Strictly increasing wavelengths, nm.
    temperature_k : float
        Cell temperature, K (> 0).

    Returns
    -------
    ndarray, shape [...]
        J0,rad, mA/cm^2.

    References
    ----------
    U. Rau, Phys. Rev. B 76, 085303 (2007), eq. (8), doi:10.1103/PhysRevB.76.085303.
    """
    return np.asarray(eqe, dtype=float) @ reciprocity_weights(wavelengths_nm, temperature_k)


def voc_rad(jsc_ma_cm2, j0_rad_ma_cm2, temperature_k=298.15) -> np.ndarray:
    """Radiative-limit open-circuit voltage kT/q ln(Jsc / J0,rad + 1), V (0 where undefined).

    Parameters
    ----------
    jsc_ma_cm2, j0_rad_ma_cm2 : array_like
        Photocurrent and radiative saturation current, mA/cm^2.
    temperature_k : float or array_like, default 298.15
        Cell temperature, K (> 0; ValueError otherwise). All broadcast together.

    Returns
    -------
    ndarray, broadcast shape of the inputs
        Voc,rad, V; 0 where Jsc or J0,rad is not > 0.

    References
    ----------
    W. Shockley & H. J. Queisser, J. Appl. Phys. 32, 510 (1961), doi:10.1063/1.1736034;
    U. Rau, Phys. Rev. B 76, 085303 (2007), doi:10.1103/PhysRevB.76.085303.
    """
    jsc = np.asarray(jsc_ma_cm2, dtype=float)
    j0 = np.asarray(j0_rad_ma_cm2, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = thermal_voltage(_check_temperature(temperature_k)) * np.log1p(jsc / j0)
    return np.where((jsc > 0) & (j0 > 0), v, 0.0)
