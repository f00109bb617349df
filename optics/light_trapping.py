"""Light-trapping models of a thick absorber behind an ideal rear reflector.

A light-trapping model replaces the planar (coherent or incoherent) optics of one
absorber, and of everything behind it, by a model of a textured wafer. The layers in
front of the absorber stay planar: they are solved as a stack that ends in a
semi-infinite medium with the absorber's refractive index (its real part, so that the
light entering it is not lost before it is counted), which gives the transmittance
T_in into the absorber and the absorptance of the front layers. The model then gives
the fraction of that light absorbed in the absorber; the rest escapes through the front
(it is counted in R), the layers behind the absorber are replaced by the ideal mirror
(their absorptance is 0 and T = 0).

Models
------
"lambertian" : the 4 n^2 limit of a randomising texture with a perfect rear mirror,
    ``lambertian_absorptance``.
"tiedje" : the same limit in its weak-absorption form, ``tiedje_absorptance`` (the form of
    Richter et al.'s intrinsic limit of silicon).

A parasitic absorption coefficient (for example free-carrier absorption) can be given: it
competes with the band-to-band absorption along the same paths, so the useful share of the
absorbed light is alpha_bb / (alpha_bb + alpha_parasitic); the rest is absorbed but
generates no carriers (it is in neither A nor R).

``trap_light`` dispatches on the model name; a new model (for example a ray-traced
texture) adds its total-absorptance function to ``MODELS``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["MODELS", "lambertian_absorptance", "tiedje_absorptance", "entry_solve", "entry_transmittance",
           "trap_light"]


def lambertian_absorptance(nk, thickness_nm, wavelengths_nm) -> np.ndarray:
    """Absorptance of a Lambertian (4 n^2) textured slab with an ideal rear mirror.

    A = (1 - e^{-4 a W}) / (1 - (1 - 1/n^2) e^{-4 a W}),   a = 4 pi k / lambda,

    for the light that has entered the slab (multiply by the entry transmittance).
    Weak absorption gives A = a / (a + 1 / (4 n^2 W)); strong absorption gives 1.

    Parameters
    ----------
    nk : array_like of complex, shape [..., W]
        Complex refractive index n + ik of the slab (k >= 0); n below 1 is taken as 1.
    thickness_nm : array_like, shape [...]
        Slab thickness W, nm (>= 0).
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm.

    Returns
    -------
    ndarray, shape [..., W]
        Absorptance in [0, 1].

    References
    ----------
    Yablonovitch, J. Opt. Soc. Am. 72, 899 (1982); Tiedje, Yablonovitch, Cody & Brooks,
    IEEE Trans. Electron Devices 31, 711 (1984); Green, Prog. Photovolt. 10, 235 (2002).
    """
    nk = np.asarray(nk, dtype=complex)
    alpha = 4 * np.pi * nk.imag / np.asarray(wavelengths_nm, dtype=float)  # 1/nm
    return _lambertian_total(alpha, nk.real, thickness_nm)


def _lambertian_total(alpha_per_nm, n_real, thickness_nm):
    e = np.exp(-4 * alpha_per_nm * np.asarray(thickness_nm, dtype=float)[..., None])
    n2 = np.maximum(n_real, 1.0) ** 2
    return (1 - e) / (1 - (1 - 1 / n2) * e)


def _tiedje_total(alpha_per_nm, n_real, thickness_nm):
    w = np.asarray(thickness_nm, dtype=float)[..., None]
    n2 = np.maximum(n_real, 1.0) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = alpha_per_nm / (alpha_per_nm + 1.0 / (4 * n2 * w))
    return np.where(alpha_per_nm > 0, a, 0.0)


def tiedje_absorptance(nk, thickness_nm, wavelengths_nm) -> np.ndarray:
    """Absorptance of a Lambertian slab with ideal rear mirror in the weak-absorption form.

    A = a / (a + 1 / (4 n^2 W)),   a = 4 pi k / lambda:

    the absorbed share of the light when every pass has the mean Lambertian path length
    4 n^2 W (the form used by Richter et al. for the intrinsic limit of silicon). It equals
    ``lambertian_absorptance`` for weak absorption and lies below it (by up to ~3 %) where
    a W ~ 0.1-1.

    Parameters
    ----------
    nk : array_like of complex, shape [..., W]
        n + ik of the slab (k >= 0).
    thickness_nm : array_like, shape [...]
        Slab thickness W, nm.
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm.

    Returns
    -------
    ndarray, shape [..., W], in [0, 1]

    References
    ----------
    Tiedje, Yablonovitch, Cody & Brooks, IEEE Trans. Electron Devices 31, 711 (1984);
    Richter, Hermle & Glunz, IEEE J. Photovolt. 3, 1184 (2013).
    """
    nk = np.asarray(nk, dtype=complex)
    alpha = 4 * np.pi * nk.imag / np.asarray(wavelengths_nm, dtype=float)
    return _tiedje_total(alpha, nk.real, thickness_nm)


#: model name -> total absorptance(alpha [B, W] in 1/nm, Re n [B, W], thickness_nm [B]) -> [B, W]
MODELS: dict[str, Callable[..., np.ndarray]] = {"lambertian": _lambertian_total, "tiedje": _tiedje_total}


def entry_solve(n_layers, thicknesses_nm, coherent, wavelengths_nm, n_incident, absorber: int,
                angle_deg: float = 0.0, profile_layers=(), validate: bool = True):
    """The planar solve of the layers in front of a light-trapping absorber.

    The stack ends in a semi-infinite medium with the absorber's index (its real part, so
    that the light entering it is counted there, not lost on the way).

    Parameters
    ----------
    n_layers, thicknesses_nm, coherent, wavelengths_nm, n_incident, absorber, angle_deg
        As ``entry_transmittance``.
    profile_layers : sequence of int, default ()
        Coherent layers in front of the absorber (< ``absorber``) whose closed-form
        absorption profile is wanted (``optics.solve_arrays``).
    validate : bool, default True
        Check the grid and every index (skip only when the caller has checked them).

    Returns
    -------
    OpticsResult
        Of the ``absorber`` layers in front: T [B, W] is the transmittance into the absorber,
        A [B, absorber, W] the absorptance of the front layers (for ``absorber = 0``, one
        zero-thickness layer of the incident medium).
    """
    from .solver import solve_arrays

    n = np.asarray(n_layers, dtype=complex)
    d = np.asarray(thicknesses_nm, dtype=float)
    b = n.shape[0]
    exit_medium = n[:, absorber].real + 0j
    if absorber > 0:
        return solve_arrays(n[:, :absorber], d[:, :absorber], tuple(coherent)[:absorber], wavelengths_nm,
                            n_incident, exit_medium, angle_deg, profile_layers=profile_layers, validate=validate)
    if len(profile_layers):
        raise ValueError("profile_layers: no layer lies in front of absorber 0")
    # the absorber is the first layer: a zero-thickness layer of the incident medium in front
    return solve_arrays(n[:, :1] * 0 + np.asarray(n_incident)[:, None], np.zeros((b, 1)), (True,), wavelengths_nm,
                        n_incident, exit_medium, angle_deg, validate=validate)


def entry_transmittance(n_layers, thicknesses_nm, coherent, wavelengths_nm, n_incident, absorber: int,
                        angle_deg: float = 0.0):
    """Light entering a semi-infinite absorber through the planar layers in front of it.

    Parameters
    ----------
    n_layers : complex array, shape [B, L, W]
        n + ik of every layer of a batch of B stacks on W wavelengths.
    thicknesses_nm : array, shape [B, L]
    coherent : sequence of bool, length L
    wavelengths_nm : array, shape [W], nm
    n_incident : complex array, shape [B, W]
    absorber : int
        Index of the absorber layer (0 <= absorber < L).
    angle_deg : float
        Angle of incidence in the incident medium, degrees in [0, 90).

    Returns
    -------
    T_in : ndarray, shape [B, W]
        Transmittance into the absorber (taken as semi-infinite, index Re n).
    A_front : ndarray, shape [B, absorber, W]
        Absorptance of the layers in front of it.
    """
    sub = entry_solve(n_layers, thicknesses_nm, coherent, wavelengths_nm, n_incident, absorber, angle_deg)
    if absorber > 0:
        return np.array(sub.T), np.array(sub.A)
    return np.array(sub.T), np.zeros((sub.T.shape[0], 0, sub.T.shape[-1]))


def trap_light(model: str, n_layers, thicknesses_nm, coherent, wavelengths_nm, n_incident, absorber: int,
               angle_deg: float = 0.0, parasitic_alpha_per_nm=None, entry=None):
    """R, T and per-layer absorptance of stacks whose absorber ``absorber`` is textured.

    Parameters
    ----------
    model : str
        A name in ``MODELS`` ("lambertian", "tiedje").
    n_layers, thicknesses_nm, coherent, wavelengths_nm, n_incident, absorber, angle_deg
        As ``entry_transmittance``.
    parasitic_alpha_per_nm : array_like, shape [B, W] or [W], optional
        Absorption coefficient in the absorber that generates no carriers (for example
        free-carrier absorption), 1/nm (>= 0).
    entry : OpticsResult, optional
        ``entry_solve`` of these stacks, when the caller has solved it already (for example
        with absorption profiles); else it is solved here.

    Returns
    -------
    R : ndarray, shape [B, W]
        Reflectance, including the light that escapes the textured absorber.
    T : ndarray, shape [B, W]
        Zero (ideal rear mirror).
    A : ndarray, shape [B, L, W]
        Absorptance of every layer: planar in front of the absorber, the model's useful
        (band-to-band) share in the absorber (times the entry transmittance), 0 behind it.
        R + sum(A) = 1 minus the parasitic absorption.
    """
    try:
        total = MODELS[model]
    except KeyError:
        raise ValueError(f"unknown light-trapping model {model!r}; known: {sorted(MODELS)}") from None
    n = np.asarray(n_layers, dtype=complex)
    d = np.asarray(thicknesses_nm, dtype=float)
    wl = np.asarray(wavelengths_nm, dtype=float)
    if entry is None:
        t_in, a_front = entry_transmittance(n, d, coherent, wl, n_incident, absorber, angle_deg)
    else:
        t_in, a_front = np.asarray(entry.T), np.asarray(entry.A)[:, :absorber]
    nk = n[:, absorber]
    a_bb = 4 * np.pi * nk.imag / wl
    a_par = np.zeros_like(a_bb) if parasitic_alpha_per_nm is None else \
        np.broadcast_to(np.asarray(parasitic_alpha_per_nm, dtype=float), a_bb.shape)
    if np.any(a_par < 0):
        raise ValueError("parasitic_alpha_per_nm must be >= 0")
    a_tot = a_bb + a_par
    absorbed = t_in * total(a_tot, nk.real, d[:, absorber])
    with np.errstate(divide="ignore", invalid="ignore"):
        useful = np.where(a_tot > 0, absorbed * a_bb / a_tot, 0.0)
    A = np.zeros(n.shape, dtype=float)
    A[:, :absorber] = a_front
    A[:, absorber] = useful
    R = np.clip(1.0 - A.sum(axis=1) - (absorbed - useful), 0.0, 1.0)
    return R, np.zeros_like(R), A
