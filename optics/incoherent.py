"""Incoherent (thick) layers between coherent thin-film groups.

The stack is cut at its incoherent layers (and the two semi-infinite media).
Between consecutive incoherent layers m and m+1 sits an *element*: a group of
coherent films, or a bare interface when the group is empty. Each element is
solved coherently for light arriving from the front and from the back, giving
power coefficients R_f, T_f, R_b, T_b. Light in an incoherent layer adds in
intensity, with single-pass transmission P_m = exp(-4 pi Im(n cos theta) d / lambda).

This is the method of Byrnes, arXiv:1603.02720 section 5 (the ``tmm``
package's ``inc_tmm``), also Centurioni, Appl. Opt. 44, 7532 (2005). Instead
of multiplying intensity transfer matrices (which contain 1/P and overflow
for an opaque wafer), the effective reflectance seen from inside layer m is
built from the back,

    rho_m = R_f + T_f T_b rho_{m+1} P_{m+1}^2 / (1 - R_b rho_{m+1} P_{m+1}^2),

and the forward intensity at the front of each incoherent layer from the front,

    F_{m+1} = F_m P_m T_f / (1 - R_b rho_{m+1} P_{m+1}^2).

Every factor is bounded, so P -> 0 is exact. Absorption in incoherent layers
follows the power bookkeeping of ``tmm.inc_absorp_in_each_layer``; coherent
layers absorb F_e A_f + B_e A_b, with F_e, B_e the intensities reaching
element e from the front and from the back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tmm import CoherentSolution, coherent_solve, forward_cos


@dataclass(frozen=True)
class Element:
    """One coherent group (or bare interface) between incoherent layers.

    ``front`` and ``back`` index the incoherent media on either side in the
    full medium list; ``layers`` are the coherent media between them.
    ``fwd`` / ``bwd`` are the coherent solutions for light from the front /
    from the back (``bwd`` lists the media in reverse). ``F`` and ``B`` [B, W]
    are the intensities that reach the element from the front and the back.
    """

    front: int
    back: int
    fwd: CoherentSolution
    bwd: CoherentSolution | None  # None for the last element: no light returns from the exit medium
    F: np.ndarray
    B: np.ndarray

    @property
    def layers(self) -> range:
        """Indices (in the full medium list) of the coherent media inside the element."""
        return range(self.front + 1, self.back)


@dataclass(frozen=True)
class IncoherentSolution:
    """Power quantities of one polarisation through a mixed stack.

    R, T : [B, W]; A : [N-2, B, W] absorbed fraction per finite layer;
    elements : the coherent groups with their illumination, for profiles.
    """

    pol: str
    R: np.ndarray
    T: np.ndarray
    A: np.ndarray
    elements: tuple[Element, ...]


def incoherent_solve(pol: str, n: np.ndarray, d: np.ndarray, coherent: np.ndarray,
                     wavelengths_nm: np.ndarray, xi: np.ndarray, cos0: np.ndarray | None = None
                     ) -> IncoherentSolution:
    """Solve one polarisation through a stack with coherent and incoherent layers.

    Parameters
    ----------
    pol : {"s", "p"}
        Polarisation.
    n : complex ndarray, shape [N, B, W]
        Indices n + ik (k >= 0), incident medium first, exit medium last.
    d : ndarray, shape [N, B]
        Thicknesses, nm (>= 0; the semi-infinite entries are ignored).
    coherent : array_like of bool, shape [N]
        True for coherent layers; the two semi-infinite media are treated as
        incoherent whatever their flag.
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm (> 0).
    xi : array_like, broadcastable to [B, W]
        In-plane wavevector n_0 sin(theta_0), real.
    cos0 : complex array_like, shape [B, W], optional
        cos(theta_0) in the incident medium.

    Returns
    -------
    IncoherentSolution
        R, T [B, W] and the absorbed fraction A [N-2, B, W] of each finite layer, all
        fractions of the incident power; the coherent elements for the profiles.

    References
    ----------
    S. J. Byrnes, arXiv:1603.02720, section 5; E. Centurioni, Appl. Opt. 44, 7532 (2005),
    doi:10.1364/AO.44.007532.
    """
    n_media, n_batch, n_wl = n.shape
    lam = np.asarray(wavelengths_nm, dtype=float)
    xi = np.broadcast_to(np.asarray(xi, dtype=float), (n_batch, n_wl))
    coh = np.asarray(coherent, dtype=bool).copy()
    coh[0] = coh[-1] = False
    inc = np.flatnonzero(~coh)  # incoherent media, incident and exit included
    n_inc = inc.size

    if n_inc == 2:  # all layers coherent: one forward solve is the whole answer
        sol = coherent_solve(pol, n, d, lam, xi, cos0)
        one = np.ones((n_batch, n_wl))
        element = Element(0, n_media - 1, sol, None, F=one, B=np.zeros_like(one))
        return IncoherentSolution(pol=pol, R=sol.R, T=sol.T, A=sol.layer_absorption(),
                                  elements=(element,))

    # single-pass intensity transmission of each incoherent layer
    P = np.ones((n_inc, n_batch, n_wl))
    for m in range(1, n_inc - 1):
        j = inc[m]
        cos_j = forward_cos(n[j], xi)
        P[m] = np.exp(-4 * np.pi * d[j][:, None] * (n[j] * cos_j).imag / lam)

    fwd, bwd = [], []
    for m in range(n_inc - 1):
        front, back = inc[m], inc[m + 1]
        idx = np.arange(front, back + 1)
        c_front = cos0 if m == 0 else None
        fwd.append(coherent_solve(pol, n[idx], d[idx], lam, xi, c_front))
        # nothing comes back from the exit medium: the last element needs no backward solve
        last = m == n_inc - 2
        bwd.append(None if last else coherent_solve(pol, n[idx[::-1]], d[idx[::-1]], lam, xi))


    # effective reflectance rho_m seen from inside incoherent layer m
    rho = np.zeros((n_inc, n_batch, n_wl))
    loss = np.ones((n_inc, n_batch, n_wl))  # 1 - R_b rho_{m+1} P_{m+1}^2, per element m
    rho[n_inc - 2] = fwd[-1].R
    for m in range(n_inc - 3, -1, -1):
        back_refl = rho[m + 1] * P[m + 1] ** 2
        loss[m] = 1 - bwd[m].R * back_refl
        rho[m] = fwd[m].R + fwd[m].T * bwd[m].T * back_refl / loss[m]

    # forward intensity F at the front of each incoherent layer, backward W there
    F = np.zeros((n_inc, n_batch, n_wl))
    F[0] = 1.0
    for m in range(n_inc - 1):
        F[m + 1] = F[m] * P[m] * fwd[m].T / loss[m]
    W = rho * P ** 2 * F

    elements = []
    for m in range(n_inc - 1):
        elements.append(Element(inc[m], inc[m + 1], fwd[m], bwd[m], F=F[m] * P[m], B=W[m + 1]))

    A = np.zeros((n_media - 2, n_batch, n_wl))
    # Poynting flux entering incoherent layer m+1 across element m, and leaving m into it
    power_in = np.zeros((n_inc, n_batch, n_wl))
    power_out = np.zeros((n_inc, n_batch, n_wl))
    for m, e in enumerate(elements):
        b = e.bwd
        if e.back == e.front + 1:  # bare interface
            power_in[m + 1] = e.F * fwd[m].T - (0.0 if b is None else e.B * b.T)
            power_out[m] = power_in[m + 1]
        else:
            power_in[m + 1] = e.F * fwd[m].T - (0.0 if b is None else e.B * b.power_entering)
            power_out[m] = e.F * fwd[m].power_entering - (0.0 if b is None else e.B * b.T)
            a = e.F * fwd[m].layer_absorption()
            if b is not None:
                a = a + e.B * b.layer_absorption()[::-1]
            A[e.front:e.back - 1] = a
    for m in range(1, n_inc - 1):
        j = inc[m]
        a = power_in[m] - power_out[m]
        A[j - 1] = np.where(n[j].imag == 0, 0.0, np.maximum(a, 0.0))

    return IncoherentSolution(pol=pol, R=rho[0], T=F[-1], A=A, elements=tuple(elements))


def absorption_terms(sol: IncoherentSolution, medium: int):
    """Exponential terms of the absorbed power density in coherent medium ``medium`` (full-media index).

    Returns (alpha_nm, kr_nm, c_f, c_b, c_o), each [B, W]: alpha = 2 Im(kz) (1/nm), kr = Re(kz)
    (rad/nm) and the coefficients of ``CoherentSolution.absorption_terms`` summed over the
    front (intensity F) and back (intensity B) illumination of its element, with depth z from
    the front face of the layer. The back illumination's depth is d - z, so its forward term
    adds to c_b, its backward term to c_f and its standing wave to c_o as conj(c_o) exp(2 i kr d).
    """
    for e in sol.elements:
        if e.front < medium < e.back:
            jf = medium - e.front
            kz = e.fwd.kz[jf]
            alpha, kr = 2 * kz.imag, kz.real
            cf, cb, co = e.fwd.absorption_terms(jf)
            cf, cb, co = e.F * cf, e.F * cb, e.F * co
            if e.bwd is not None:
                jb = e.back - medium
                bf, bb, bo = e.bwd.absorption_terms(jb)
                d = e.fwd.d[jf][:, None]
                cf = cf + e.B * bb
                cb = cb + e.B * bf
                co = co + e.B * np.conj(bo) * np.exp(2j * kr * d)
            return alpha, kr, cf, cb, co
    raise ValueError(f"medium {medium} is not a coherent layer of this solution")
