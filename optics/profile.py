"""Position-resolved absorption, |E|^2 and the generation rate in coherent layers.

In a coherent layer j the forward and backward waves give the absorbed power
density (Byrnes, arXiv:1603.02720 eqs. 22-23). In a partly incoherent stack a
coherent layer belongs to an element lit with intensity F from the front and
B from the back; the two illuminations are mutually incoherent, so

    a(z) = F a_fwd(z) + B a_bwd(d_j - z)

(as ``tmm.inc_find_absorp_analytic_fn``). Incoherent layers are not resolved
(their depth is skipped on the z axis; their total absorption is in
``optics.solve``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .incoherent import incoherent_solve
from .grid import check_wavelengths
from .solver import (POLARIZATIONS, check_angle, check_thicknesses, full_media,
                     solved_polarizations, stack_arrays)
from .spectra import photon_flux
from .stack import Stack


@dataclass(frozen=True)
class ProfileResult:
    """Absorption and field profile through the coherent layers of one stack.

    Attributes
    ----------
    wavelengths_nm : [W]
    z_nm : [Z] depth from the front face of the first layer, nm; points are
        the centres of equal cells that tile each coherent layer.
    dz_nm : [Z] cell widths, nm: sum(absorption * dz_nm) over a layer's cells
        is its absorptance to O(dz^2).
    layer_index : [Z] index of the stack layer holding each point.
    absorption : [Z, W] absorbed fraction of the incident power per nm.
    field : [Z, W] |E|^2 relative to the incident plane wave (intensity sum
        of the front and back illuminations in incoherent stacks).
    boundaries_nm : [L+1] depth of every layer interface, nm.
    """

    wavelengths_nm: np.ndarray
    z_nm: np.ndarray
    dz_nm: np.ndarray
    layer_index: np.ndarray
    absorption: np.ndarray
    field: np.ndarray
    boundaries_nm: np.ndarray

    def layer_absorptance(self, layer: int) -> np.ndarray:
        """Absorptance of one layer from the profile (midpoint rule over its cells).

        Parameters
        ----------
        layer : int
            Stack layer index (0 = first layer after the incident medium).

        Returns
        -------
        ndarray, shape [W]
            Fraction of the incident power absorbed in that layer (0 for a layer that
            was not resolved).
        """
        sel = self.layer_index == layer
        return (self.absorption[sel] * self.dz_nm[sel, None]).sum(axis=0)


@dataclass(frozen=True)
class GenerationProfile:
    """Photogeneration rate under a spectrum, one electron-hole pair per absorbed photon.

    Attributes
    ----------
    z_nm, dz_nm, layer_index : ndarray, shape [Z]
        As in ``ProfileResult``.
    generation : ndarray, shape [Z]
        Photons absorbed per second per cm^3, cm^-3 s^-1.
    """

    z_nm: np.ndarray
    dz_nm: np.ndarray
    layer_index: np.ndarray
    generation: np.ndarray


def _grid(d: np.ndarray, layers: list[int], dz_nm: float):
    starts = np.concatenate([[0.0], np.cumsum(d)])
    z, w, idx, local = [], [], [], []
    for j in layers:
        if d[j] == 0:
            continue
        cells = max(1, int(np.ceil(d[j] / dz_nm - 1e-9)))
        h = d[j] / cells
        zl = (np.arange(cells) + 0.5) * h
        local.append(zl)
        z.append(starts[j] + zl)
        w.append(np.full(cells, h))
        idx.append(np.full(cells, j))
    cat = (lambda a, dt=float: np.concatenate(a) if a else np.zeros(0, dtype=dt))
    return cat(z), cat(w), cat(idx, int), cat(local), starts


def absorption_profile(stack: Stack, wavelengths_nm, dz_nm: float = 1.0, angle_deg: float = 0.0,
                       polarization: str = "unpolarized", layers=None) -> ProfileResult:
    """Absorbed power density A(z, lambda) and |E|^2 inside coherent layers.

    Parameters
    ----------
    stack : optics.Stack
        The stack; its coherent layers are resolved.
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm (validated by ``optics.grid.check_wavelengths``).
    dz_nm : float, default 1.0
        Target grid step, nm (> 0): each layer is cut into equal cells no wider than this.
    angle_deg : float, default 0.0
        Angle of incidence in the incident medium, degrees, [0, 90).
    polarization : {"s", "p", "unpolarized"}, default "unpolarized"
        "unpolarized" averages s and p.
    layers : iterable of int, optional
        Stack layer indices to resolve (default: every coherent layer). Incoherent
        layers cannot be resolved (ValueError).

    Returns
    -------
    ProfileResult
        Absorption in nm^-1 (fraction of the incident power per nm) and |E|^2 on the
        depth grid, shapes [Z, W].

    References
    ----------
    S. J. Byrnes, arXiv:1603.02720, eqs. (22)-(23) and section 5.
    """
    wl = check_wavelengths(wavelengths_nm)
    angle = check_angle(angle_deg)
    if polarization not in POLARIZATIONS:
        raise ValueError(f"polarization must be one of {POLARIZATIONS}, got {polarization!r}")
    if not (np.isfinite(dz_nm) and dz_nm > 0):
        raise ValueError(f"dz_nm must be > 0, got {dz_nm}")
    coherent = np.array(stack.coherent, dtype=bool)
    if layers is None:
        layers = [j for j in range(len(stack.layers)) if coherent[j]]
    layers = sorted(int(j) for j in layers)
    for j in layers:
        if not 0 <= j < len(stack.layers):
            raise ValueError(f"layer {j} is not in the stack (it has {len(stack.layers)} layers)")
        if not coherent[j]:
            raise ValueError(f"layer {j} ({stack.labels[j]!r}) is incoherent; profiles are for coherent layers")
    check_thicknesses(stack.thicknesses_nm, stack.labels)
    n, n0, nf, d = stack_arrays([stack], wl)
    n_all, d_all, coh_all, xi, cos0 = full_media(n, d, coherent, n0, nf, angle)

    z, dz, idx, local, starts = _grid(d[0], layers, dz_nm)
    absorption = np.zeros((z.size, wl.size))
    field = np.zeros((z.size, wl.size))
    pols = solved_polarizations(angle, polarization)
    for pol in pols:
        sol = incoherent_solve(pol, n_all, d_all, coh_all, wl, xi, cos0)
        for e in sol.elements:
            for j_all in e.layers:
                j = j_all - 1  # stack layer index
                sel = idx == j
                if not np.any(sel):
                    continue
                jf = j_all - e.front
                jb = e.back - j_all
                zl = local[sel]
                ef, eb = e.fwd.fields(jf, zl)
                a = e.F * e.fwd.absorption_density(jf, ef, eb)
                f = e.F * e.fwd.field_intensity(jf, ef, eb, xi)
                if e.bwd is not None:
                    bf, bb = e.bwd.fields(jb, d[0, j] - zl)
                    a = a + e.B * e.bwd.absorption_density(jb, bf, bb)
                    f = f + e.B * e.bwd.field_intensity(jb, bf, bb, xi)
                absorption[sel] += a[:, 0] / len(pols)
                field[sel] += f[:, 0] / len(pols)
    return ProfileResult(wl, z, dz, idx, absorption, field, starts)


def spectral_generation(profile: ProfileResult, spectrum="AM1.5G") -> np.ndarray:
    """Spectral generation rate G(z, lambda) in photons s^-1 cm^-3 nm^-1 under ``spectrum``.

    G(z, lambda) = a(z, lambda) Phi(lambda), one electron-hole pair per absorbed photon, with
    a in nm^-1 (``profile.absorption``) and Phi in photons s^-1 m^-2 nm^-1. Unit factor:
    nm^-1 -> cm^-1 is 1e7, m^-2 -> cm^-2 is 1e-4.

    Parameters
    ----------
    profile : ProfileResult
        From ``absorption_profile``: absorption [Z, W] on ``profile.wavelengths_nm`` [W], nm.
    spectrum : str or callable, default "AM1.5G"
        A spectrum name (see ``optics.spectra.spectrum_table``), or a callable
        ``spectrum(wavelengths_nm)`` returning the photon flux in photons s^-1 m^-2 nm^-1.

    Returns
    -------
    ndarray, shape [Z, W]
        G(z, lambda), photons s^-1 cm^-3 nm^-1; ``generation_profile`` integrates it over lambda.
    """
    wl = profile.wavelengths_nm
    if callable(spectrum):
        flux = np.broadcast_to(np.asarray(spectrum(wl), dtype=float), wl.shape)
    else:
        flux = photon_flux(wl, spectrum)
    return profile.absorption * flux * (1e7 * 1e-4)


def generation_profile(stack: Stack, wavelengths_nm, dz_nm: float = 1.0, angle_deg: float = 0.0,
                       polarization: str = "unpolarized", layers=None,
                       spectrum="AM1.5G") -> GenerationProfile:
    """Generation rate G(z) in photons s^-1 cm^-3 under ``spectrum``.

    G(z) = integral a(z, lambda) Phi(lambda) d lambda, with a in nm^-1 and
    Phi in photons s^-1 m^-2 nm^-1, trapezoid rule over ``wavelengths_nm``
    (so use a grid of 5 nm or finer). Unit factor: nm^-1 -> cm^-1 is 1e7,
    m^-2 -> cm^-2 is 1e-4.

    Parameters
    ----------
    stack, wavelengths_nm, dz_nm, angle_deg, polarization, layers
        As ``absorption_profile``; give ``wavelengths_nm`` increasing (not checked here:
        a decreasing grid flips the sign of the trapezoid integral).
    spectrum : str or callable, default "AM1.5G"
        A spectrum name (see ``optics.spectra.spectrum_table``: "AM1.5G", "AM1.5D", "AM0"
        or a registered one), or a callable ``spectrum(wavelengths_nm)`` returning the photon
        flux in photons s^-1 m^-2 nm^-1 (for example a measured or simulated irradiance).

    Returns
    -------
    GenerationProfile
        G(z), cm^-3 s^-1, on the depth grid of ``absorption_profile``; with a single
        wavelength, the absorbed photon flux per nm of bandwidth at that wavelength.
    """
    prof = absorption_profile(stack, wavelengths_nm, dz_nm, angle_deg, polarization, layers)
    g = spectral_generation(prof, spectrum)
    if prof.wavelengths_nm.size > 1:
        g = np.trapezoid(g, prof.wavelengths_nm, axis=1)
    else:
        g = g[:, 0]
    return GenerationProfile(prof.z_nm, prof.dz_nm, prof.layer_index, g)
