"""Facet-averaged absorption profile of a front film on a textured wafer.

``optics.redistribution.solve_textured`` returns, per wavelength, the weight with which the front
films are lit at each local angle of incidence, from the outer medium (``hit_front``) and from the
wafer (``hit_front_back``). On every facet the films are a planar coherent stack, so the profile
across a film (depth z measured along the facet normal from the film's outer face) is the
hit-weighted sum of the TMM absorption densities at those angles (Byrnes, arXiv:1603.02720
eqs. 22-23), s and p averaged:

    a(z) = sum_theta h_o(theta) a_o(z; theta) + sum_theta h_w(theta) a_w(d - z; theta).

Its depth integral is the film's absorptance of ``solve_textured`` (to the angle interpolation
used there where the wafer transmits, and for the little light that meets the films from the
wafer where it is opaque). The result is an ``optics.ProfileResult``, so
``optics.spectral_generation`` gives the facet-averaged G(z, lambda) of the collection models.
"""
from __future__ import annotations

import numpy as np

from .profile import ProfileResult
from .texture import ANGLE_STEP_DEG, N_FINE
from .tmm import coherent_solve


def _densities(n_media, d_media, wl, xi, j, z):
    """s/p-averaged absorption density and |E|^2 [Z, K, W] in medium j at depths z [Z] (nm)."""
    a = f = 0.0
    for pol in ("s", "p"):
        sol = coherent_solve(pol, n_media, d_media, wl, xi)
        ef, eb = sol.fields(j, z)
        a = a + 0.5 * sol.absorption_density(j, ef, eb)
        f = f + 0.5 * sol.field_intensity(j, ef, eb, xi)
    return a, f


def textured_absorption_profile(n_layers, thicknesses_nm, wavelengths_nm, result, layer: int,
                                n_incident=1.0, dz_nm: float = 1.0, min_weight: float = 1e-6):
    """Absorbed fraction of the incident light per nm across front film ``layer`` of one design.

    Parameters
    ----------
    n_layers : complex [L, W]; thicknesses_nm : [L] nm; wavelengths_nm : [W] nm — as given to
        ``solve_textured`` for this design.
    result : its ``TexturedResult`` (one design).
    layer : index of a coherent layer above the wafer (e.g. the top absorber).
    n_incident : the incident medium (scalar or [W]).
    dz_nm : depth step (cells of equal width, midpoints).
    min_weight : local angles lit with less than this fraction of the incident light (at every
        wavelength) are skipped.

    Returns
    -------
    optics.ProfileResult over the film: z_nm [Z] cell midpoints from the stack's outer face along
    the facet normal, dz_nm [Z], absorption [Z, W] (nm^-1; sum of absorption * dz_nm is the
    film's absorptance), field [Z, W] (|E|^2 relative to the incident wave, the hit-weighted
    sum of the facets' incoherent illuminations).
    """
    wl = np.asarray(wavelengths_nm, dtype=float)
    n = np.asarray(n_layers, dtype=complex)
    d = np.asarray(thicknesses_nm, dtype=float)
    iw = result.wafer
    if not (0 <= layer < iw):
        raise ValueError(f"layer {layer} is not a film above the wafer (layer {iw})")
    n0 = np.broadcast_to(np.asarray(n_incident, dtype=complex), wl.shape)
    cells = max(1, int(np.ceil(d[layer] / dz_nm - 1e-9)))
    h = d[layer] / cells
    z = (np.arange(cells) + 0.5) * h
    theta = np.arange(N_FINE) * ANGLE_STEP_DEG
    s = np.sin(np.radians(np.minimum(theta, 89.5)))
    absorption = np.zeros((cells, wl.size))
    field = np.zeros((cells, wl.size))
    films = n[:iw]
    for side, hits in ((0, result.hit_front), (1, result.hit_front_back)):
        used = np.flatnonzero(hits.max(axis=1) > min_weight)
        if used.size == 0:
            continue
        if side == 0:  # from the outer medium: incident, films, wafer (absorbing, as solved)
            media = np.concatenate([n0[None], films, n[iw][None]])
            dm = np.concatenate([[0.0], d[:iw], [0.0]])
            xi = n0.real[None] * s[used, None]
            j, zz = layer + 1, z
        else:  # from the wafer: its real index, films reversed, outer medium
            media = np.concatenate([n[iw].real[None] + 0j, films[::-1], n0[None]])
            dm = np.concatenate([[0.0], d[:iw][::-1], [0.0]])
            xi = n[iw].real[None] * s[used, None]
            j, zz = iw - layer, d[layer] - z
        k = used.size
        nm = np.broadcast_to(media[:, None, :], (media.shape[0], k, wl.size))
        dd = np.broadcast_to(dm[:, None], (dm.size, k))
        a, f = _densities(nm, dd, wl, xi, j, zz)  # [Z, K, W]
        absorption += np.einsum("zkw,kw->zw", a, hits[used])
        field += np.einsum("zkw,kw->zw", f, hits[used])
    starts = np.concatenate([[0.0], np.cumsum(d)])
    return ProfileResult(wl, starts[layer] + z, np.full(cells, h), np.full(cells, layer), absorption, field,
                         starts)
