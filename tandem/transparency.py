"""Semitransparent devices: average visible transmittance, light-utilisation efficiency, colour.

AVT (Traverse et al., Nat. Energy 2, 849 (2017); Yang et al., Joule 3, 1415 (2019),
consensus statement)::

    AVT = integral T(l) V(l) S(l) dl / integral V(l) S(l) dl,   l = 380...780 nm

with V the CIE 1924 photopic luminous efficiency and S the AM1.5G spectrum. Yang et al.
weight with the solar *photon flux*; that is the default here (``weighting="photon"``).
``weighting="power"`` uses the spectral irradiance instead (the photometric, luminous
transmittance definition); the two differ by well under 1 % absolute for grey filters
and by a few % for coloured ones.

LUE = PCE x AVT (Traverse 2017; both in %, LUE in %).

Colour of the transmitted light: CIE 1931 2-degree xy of T(l) x illuminant (AM1.5G by
default, or CIE D65), and its colour rendering index (CIE 13.3-1995 Ra) computed with
colour-science. T is interpolated linearly from the optical grid; these quantities are
linear functionals of T, so a batch costs one matrix product (CRI is per spectrum).
"""
from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

from optics.grid import check_wavelengths
from optics.spectra import am15g_irradiance, am15g_photon_flux, trapezoid_weights

__all__ = ["VISIBLE_RANGE_NM", "avt", "avt_weights", "lue", "chromaticity", "colour_rendering_index"]

#: Integration range of the AVT, nm.
VISIBLE_RANGE_NM = (380.0, 780.0)


def _grid(wavelengths_nm) -> np.ndarray:
    wl = check_wavelengths(wavelengths_nm, increasing=True, min_points=2)
    lo, hi = VISIBLE_RANGE_NM
    if wl[0] > lo or wl[-1] < hi:
        raise ValueError(
            f"transmittance must be known over {lo:g}-{hi:g} nm for AVT/colour, "
            f"but the wavelength grid spans {wl[0]:g}-{wl[-1]:g} nm"
        )
    return wl


def _interp_matrix(fine: np.ndarray, wl: np.ndarray) -> np.ndarray:
    """M [F, W] such that M @ y is y linearly interpolated from wl onto fine."""
    idx = np.clip(np.searchsorted(wl, fine, side="right") - 1, 0, wl.size - 2)
    frac = np.clip((fine - wl[idx]) / (wl[idx + 1] - wl[idx]), 0.0, 1.0)
    m = np.zeros((fine.size, wl.size))
    rows = np.arange(fine.size)
    m[rows, idx] = 1 - frac
    m[rows, idx + 1] += frac
    return m


@lru_cache(maxsize=1)
def _photopic_1nm():
    import colour

    v = colour.colorimetry.SDS_LEFS_PHOTOPIC["CIE 1924 Photopic Standard Observer"]
    lo, hi = VISIBLE_RANGE_NM
    fine = np.arange(lo, hi + 0.5, 1.0)
    return fine, np.interp(fine, v.wavelengths, v.values)


@lru_cache(maxsize=32)
def _avt_weights_cached(wl_key: tuple, weighting: str) -> np.ndarray:
    wl = np.asarray(wl_key)
    fine, v = _photopic_1nm()
    s = am15g_photon_flux(fine) if weighting == "photon" else am15g_irradiance(fine)
    kern = v * s * trapezoid_weights(fine)
    w = (kern / kern.sum()) @ _interp_matrix(fine, wl)
    w.setflags(write=False)
    return w


def avt_weights(wavelengths_nm, weighting: str = "photon") -> np.ndarray:
    """Weights w with AVT (fraction) = T @ w.

    Photopic response x AM1.5G on a 1 nm grid over 380-780 nm, normalised to sum to 1,
    with T taken linear between the grid points. Cached per grid and weighting.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W], W >= 2
        Strictly increasing wavelengths, nm, covering 380-780 nm (ValueError otherwise).
    weighting : {"photon", "power"}, default "photon"
        Weight with the AM1.5G photon flux (Yang et al.) or its irradiance (luminous
        transmittance).

    Returns
    -------
    ndarray, shape [W], read-only
        Dimensionless weights summing to 1.
    """
    if weighting not in ("photon", "power"):
        raise ValueError(f"weighting must be 'photon' or 'power', got {weighting!r}")
    wl = _grid(wavelengths_nm)
    return _avt_weights_cached(tuple(wl.tolist()), weighting)


def avt(transmittance, wavelengths_nm, weighting: str = "photon") -> np.ndarray:
    """Average visible transmittance (photopic x AM1.5G, 380-780 nm).

    Parameters
    ----------
    transmittance : array_like, shape [..., W]
        Transmittance, 0..1; leading axes (a batch) are kept.
    wavelengths_nm : array_like, shape [W]
        As ``avt_weights``.
    weighting : {"photon", "power"}, default "photon"
        As ``avt_weights``.

    Returns
    -------
    ndarray, shape [...]
        AVT, %.

    References
    ----------
    C. J. Traverse, R. Pandey, M. C. Barr & R. R. Lunt, Nat. Energy 2, 849 (2017);
    Yang et al., Joule 3 (2019) (the photon-flux weighting).
    """
    t = np.asarray(transmittance, dtype=float)
    if t.shape[-1] != np.size(wavelengths_nm):
        raise ValueError(f"transmittance has {t.shape[-1]} wavelengths, the grid has {np.size(wavelengths_nm)}")
    return 100.0 * (t @ avt_weights(wavelengths_nm, weighting))


def lue(pce_pct, avt_pct) -> np.ndarray:
    """Light-utilisation efficiency LUE = PCE x AVT.

    Parameters
    ----------
    pce_pct, avt_pct : array_like
        Power-conversion efficiency and average visible transmittance, % (broadcast).

    Returns
    -------
    ndarray
        LUE, % (PCE % x AVT % / 100).

    References
    ----------
    C. J. Traverse, R. Pandey, M. C. Barr & R. R. Lunt, Nat. Energy 2, 849 (2017).
    """
    return np.asarray(pce_pct, dtype=float) * np.asarray(avt_pct, dtype=float) / 100.0


def _illuminant(name: str, wl: np.ndarray) -> np.ndarray:
    if name == "AM1.5G":
        return am15g_irradiance(wl)
    if name == "D65":
        import colour

        d65 = colour.SDS_ILLUMINANTS["D65"]
        return np.interp(wl, d65.wavelengths, d65.values)
    raise ValueError(f"illuminant must be 'AM1.5G' or 'D65', got {name!r}")


@lru_cache(maxsize=32)
def _xyz_weights_cached(wl_key: tuple, illuminant: str) -> np.ndarray:
    import colour

    wl = np.asarray(wl_key)
    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    lo, hi = VISIBLE_RANGE_NM
    fine = np.arange(lo, hi + 0.5, 1.0)
    xyz_bar = np.stack([np.interp(fine, cmfs.wavelengths, cmfs.values[:, i]) for i in range(3)])
    kern = xyz_bar * _illuminant(illuminant, fine) * trapezoid_weights(fine)  # [3, F]
    w = kern @ _interp_matrix(fine, wl)  # [3, W]
    w.setflags(write=False)
    return w


def chromaticity(transmittance, wavelengths_nm, illuminant: str = "AM1.5G") -> np.ndarray:
    """CIE 1931 chromaticity of the light transmitted through a device.

    XYZ = integral T(l) S(l) [x_bar, y_bar, z_bar](l) dl over 380-780 nm (1 nm steps, T
    linear between the grid points), with the CIE 1931 2-degree observer of colour-science.

    Parameters
    ----------
    transmittance : array_like, shape [..., W]
        Transmittance, 0..1.
    wavelengths_nm : array_like, shape [W], W >= 2
        Strictly increasing wavelengths, nm, covering 380-780 nm.
    illuminant : {"AM1.5G", "D65"}, default "AM1.5G"
        Light falling on the device, S(l).

    Returns
    -------
    ndarray, shape [..., 2]
        CIE x, y (dimensionless); NaN where nothing is transmitted.

    References
    ----------
    CIE 015:2018, Colorimetry, 4th ed. (the 1931 standard observer).
    """
    wl = _grid(wavelengths_nm)
    t = np.asarray(transmittance, dtype=float)
    xyz = t @ _xyz_weights_cached(tuple(wl.tolist()), illuminant).T
    s = xyz.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = xyz[..., :2] / s
    return np.where(s > 0, xy, np.nan)


def colour_rendering_index(transmittance, wavelengths_nm, illuminant: str = "AM1.5G") -> np.ndarray:
    """General colour rendering index Ra of the light transmitted through a device.

    The test light is T(l) x illuminant on a 5 nm grid over 360-830 nm (T linear between the
    grid points, held at its end values outside the grid); colour-science compares it with
    the CIE 13.3 reference illuminant at the same correlated colour temperature (Planckian
    below 5000 K, CIE D series above). One colour-science call per spectrum (about 15 ms).

    Parameters
    ----------
    transmittance : array_like, shape [..., W]
        Transmittance, 0..1.
    wavelengths_nm : array_like, shape [W], W >= 2
        Strictly increasing wavelengths, nm, covering 380-780 nm.
    illuminant : {"AM1.5G", "D65"}, default "AM1.5G"
        Light falling on the device.

    Returns
    -------
    ndarray, shape [...]
        Ra (dimensionless, at most 100); NaN where the device transmits (almost) nothing.

    References
    ----------
    CIE 13.3-1995, Method of Measuring and Specifying Colour Rendering Properties of
    Light Sources.
    """
    import colour

    wl = _grid(wavelengths_nm)
    t = np.asarray(transmittance, dtype=float)
    grid = np.arange(360.0, 831.0, 5.0)
    source = _illuminant(illuminant, grid)
    flat = t.reshape(-1, t.shape[-1])
    out = np.full(flat.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # colour-science's shape-alignment notices
        for i, row in enumerate(flat):
            tt = np.interp(grid, wl, row)
            if np.max(tt) < 1e-6:
                continue
            sd = colour.SpectralDistribution(dict(zip(grid, tt * source)))
            out[i] = float(colour.colour_rendering_index(sd))
    return out.reshape(t.shape[:-1])
