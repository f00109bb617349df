"""Coherent transfer-matrix method, vectorised over wavelengths and stacks.

Physics and conventions follow S. J. Byrnes, "Multilayer optical calculations",
arXiv:1603.02720 (the ``tmm`` package): complex index n + ik with k >= 0, the
in-plane wavevector xi = n_0 sin(theta_0) conserved through the stack, Fresnel
amplitudes of Byrnes eqs. (9)-(12), Poynting flux and absorbed power density of
Byrnes section 3.

The numerics differ from the textbook product of 2x2 matrices. The
reflection coefficient is built from the back of the stack with the Airy
(Rouard) recursion

    Gamma_j = rho_j exp(2 i delta_j),
    rho_{j-1} = (r_{j-1,j} + Gamma_j) / (1 + r_{j-1,j} Gamma_j),

and forward amplitudes are carried from the front,

    v_{j+1} = v_j exp(i delta_j) t_{j,j+1} / (1 + r_{j,j+1} Gamma_{j+1}),

where delta_j = kz_j d_j and every propagator has |exp(i delta)| <= 1 because
each layer's forward wave is chosen with Im(kz) >= 0. Nothing grows, so a
50 um Si layer at 300 nm or 1 mm of Ag treated as coherent gives the
semi-infinite reflectance and T = 0 without overflow (the matrix product
overflows there; ``tmm`` caps Im(delta) at 35 instead).

Array layout: layer axis first. ``n`` has shape [N, B, W] for N media (the
incident medium, the layers, the exit medium), B stacks and W wavelengths;
``d`` has shape [N, B] in nm (the two semi-infinite entries are ignored).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class CoherentSolution:
    """Amplitudes of one polarisation through a coherent stack.

    All arrays are broadcast to [B, W] per medium; those with a leading N
    axis have one entry per medium (incident medium first).

    Attributes
    ----------
    pol : "s" or "p"
    wavelengths_nm : [W]
    n, cos_theta, kz : [N, B, W]
        Index, cosine of the (complex) propagation angle ([N, 1, 1] of ones at
        normal incidence) and normal
        wavevector kz = 2 pi n cos(theta) / lambda in rad/nm, forward wave.
    d : [N, B]   thicknesses in nm (incident/exit entries 0).
    v : [N, B, W]
        Forward field amplitude just after the front interface of each medium
        (v[0] = 1 incident, v[-1] = t).
    rho : [N, B, W]
        Ratio backward/forward field at the *back* face of each medium
        (rho[0] = r, rho[-1] = 0).
    gamma : [N, B, W]
        The same ratio at the *front* face, rho exp(2 i kz d).
    r, t : [B, W]  amplitude reflection and transmission coefficients.
    R, T : [B, W]  reflected and transmitted power fractions.
    power_entering : [B, W]  Poynting flux entering medium 1 (= 1 - R for a
        lossless incident medium).
    """

    pol: str
    wavelengths_nm: np.ndarray
    n: np.ndarray
    cos_theta: np.ndarray
    kz: np.ndarray
    d: np.ndarray
    v: np.ndarray
    rho: np.ndarray
    gamma: np.ndarray
    r: np.ndarray
    t: np.ndarray
    R: np.ndarray
    T: np.ndarray
    power_entering: np.ndarray

    def flux_norm(self) -> np.ndarray:
        """Incident Poynting-flux normalisation, shape [B, W].

        Re(n_0 cos theta_0) for s, Re(n_0 conj(cos theta_0)) for p (Byrnes eq. 21 for the
        incident wave); +inf where it is 0 (an evanescent incident medium carries no power,
        so every normalised flux is 0 there).
        """
        c0 = self.cos_theta[0] if self.pol == "s" else np.conj(self.cos_theta[0])
        norm = (self.n[0] * c0).real
        return np.where(norm == 0, np.inf, norm)

    def fields(self, j: int, z_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward and backward field amplitudes at depth z in medium j.

        Both waves are written with bounded exponentials, Ef(z) = v exp(i kz z) and
        Eb(z) = v rho exp(i kz (2d - z)), so that a thick absorbing layer cannot overflow.

        Parameters
        ----------
        j : int
            Medium index, 0 <= j < N (incident medium 0).
        z_nm : array_like, shape [Z]
            Depth from the front face of medium j, nm (0 <= z <= d_j for a finite layer).

        Returns
        -------
        ef, eb : complex ndarray, shape [Z, B, W]
            Forward and backward amplitudes relative to the incident field.
        """
        z = np.asarray(z_nm, dtype=float)[:, None, None]
        kz, v = self.kz[j], self.v[j]
        d = self.d[j][:, None]
        ef = v * np.exp(1j * kz * z)
        eb = v * self.rho[j] * np.exp(1j * kz * (2 * d - z))
        return ef, eb

    def poynting(self, j, ef: np.ndarray, eb: np.ndarray) -> np.ndarray:
        """Normal Poynting flux for given forward/backward amplitudes (Byrnes eq. 21).

        Parameters
        ----------
        j : int or slice
            Medium index, or a slice of media (then ``ef``/``eb`` carry that leading axis).
        ef, eb : complex ndarray, broadcastable to [B, W] (or [M, B, W] for a slice)
            Forward and backward amplitudes, as from ``fields``.

        Returns
        -------
        ndarray
            Flux as a fraction of the incident power (1 = the incident flux).
        """
        n, c = self.n[j], self.cos_theta[j]
        if self.pol == "s":
            s = (n * c * np.conj(ef + eb) * (ef - eb)).real
        else:
            s = (n * np.conj(c) * (ef + eb) * np.conj(ef - eb)).real
        return s / self.flux_norm()

    def absorption_density(self, j: int, ef: np.ndarray, eb: np.ndarray) -> np.ndarray:
        """Absorbed power density in medium j (Byrnes eqs. 22-23).

        Parameters
        ----------
        j : int
            Medium index.
        ef, eb : complex ndarray, shape [Z, B, W]
            Amplitudes from ``fields``.

        Returns
        -------
        ndarray, shape [Z, B, W]
            Fraction of the incident power absorbed per nm of depth, nm^-1 (>= 0; round-off
            negatives are clipped).
        """
        n, c, kz = self.n[j], self.cos_theta[j], self.kz[j]
        if self.pol == "s":
            a = (n * c * kz * np.abs(ef + eb) ** 2).imag
        else:
            a = (n * np.conj(c) * (kz * np.abs(ef - eb) ** 2 - np.conj(kz) * np.abs(ef + eb) ** 2)).imag
        return np.maximum(a / self.flux_norm(), 0.0)

    def absorption_terms(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coefficients of the absorbed power density in medium j as a sum of exponentials::

            a(z) = c_f exp(-alpha z) + c_b exp(-alpha (d - z)) + Re(c_o exp(-2 i Re(kz) z)),

        alpha = 2 Im(kz), z from the front face (the same density as ``absorption_density``,
        written out so that it can be integrated in closed form). Returns (c_f, c_b, c_o),
        each [B, W], per nm: |Ef|^2 and |Eb|^2 carry the exponentials, their cross term the
        standing wave (Byrnes eqs. 22-23 with |Ef +- Eb|^2 expanded).
        """
        n, c, kz, v, rho = self.n[j], self.cos_theta[j], self.kz[j], self.v[j], self.rho[j]
        d = self.d[j][:, None]
        if self.pol == "s":
            p = q = (n * c * kz).imag
        else:
            m = n * np.conj(c)
            p = 2 * kz.imag * m.real
            q = -2 * kz.real * m.imag
        norm = self.flux_norm()
        v2 = np.abs(v) ** 2
        e2 = np.exp(2j * kz * d)  # |e2| = exp(-alpha d) <= 1
        c_f = p * v2 / norm
        c_b = p * v2 * np.abs(rho) ** 2 * np.abs(e2) / norm
        c_o = 2 * q * v2 * rho * e2 / norm
        return c_f, c_b, c_o

    def field_intensity(self, j: int, ef: np.ndarray, eb: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """|E|^2 in medium j relative to the incident plane wave's |E_0|^2.

        Parameters
        ----------
        j : int
            Medium index.
        ef, eb : complex ndarray, shape [Z, B, W]
            Amplitudes from ``fields``.
        xi : ndarray, broadcastable to [B, W]
            In-plane wavevector n_0 sin(theta_0) (for the normal field component of p).

        Returns
        -------
        ndarray, shape [Z, B, W]
            Dimensionless field intensity (s: |Ey|^2; p: |Ex|^2 + |Ez|^2).
        """
        if self.pol == "s":
            return np.abs(ef + eb) ** 2
        sin_t = xi / self.n[j]
        return np.abs((ef - eb) * self.cos_theta[j]) ** 2 + np.abs((ef + eb) * sin_t) ** 2

    def layer_absorption(self) -> np.ndarray:
        """Fraction of incident power absorbed in each finite layer, [N-2, B, W].

        Difference of the Poynting flux at the front faces of consecutive
        media, clipped at 0 against round-off and exactly 0 for lossless or
        zero-thickness layers (so every value is >= 0 and the sum telescopes
        to power_entering - T).
        """
        n_media = self.n.shape[0]
        flux = np.empty((n_media,) + self.r.shape)  # flux[j]: at the front face of medium j
        flux[0] = 1.0
        flux[1] = self.power_entering
        if n_media > 3:  # all inner front faces at once
            inner = slice(2, n_media - 1)
            v = self.v[inner]
            flux[inner] = self.poynting(inner, v, v * self.gamma[inner])
        flux[-1] = self.T
        a = flux[1:-1] - flux[2:]
        inert = (self.n[1:-1].imag == 0) | (self.d[1:-1, :, None] == 0)
        return np.where(inert, 0.0, np.maximum(a, 0.0))


def forward_cos(n: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """cos(theta) of the forward-travelling wave in a medium of index n.

    cos(theta) = sqrt(1 - (xi/n)^2), with the sign chosen so that the wave
    decays (Im(n cos theta) > 0) or, for a lossless propagating wave, carries
    power forward (Re(n cos theta) > 0).

    Parameters
    ----------
    n : complex array_like
        Complex index n + ik, k >= 0, any shape.
    xi : array_like, broadcastable to ``n``
        Conserved in-plane wavevector n_0 sin(theta_0) (dimensionless, real).

    Returns
    -------
    complex ndarray, broadcast shape of ``n`` and ``xi``

    References
    ----------
    S. J. Byrnes, "Multilayer optical calculations", arXiv:1603.02720, appendix D.
    """
    cos_t = np.sqrt(1 - (xi / n) ** 2 + 0j)
    nc = n * cos_t
    forward = np.where(np.abs(nc.imag) > 100 * _EPS, nc.imag > 0, nc.real > 0)
    return np.where(forward, cos_t, -cos_t)


def interface_coefficients(pol: str, n_i, n_f, c_i, c_f) -> tuple[np.ndarray, np.ndarray]:
    """Fresnel amplitude coefficients r, t from medium i to medium f.

    Parameters
    ----------
    pol : {"s", "p"}
        Polarisation.
    n_i, n_f : complex array_like
        Indices of the media before and after the interface (broadcast together).
    c_i, c_f : complex array_like or None
        cos(theta) in each medium (``forward_cos``); ``None`` for both means normal
        incidence (cos = 1), where r_p = -r_s in the convention of Byrnes and ``tmm``.

    Returns
    -------
    r, t : complex ndarray
        Amplitude reflection and transmission coefficients.

    References
    ----------
    S. J. Byrnes, arXiv:1603.02720, eqs. (9)-(12).
    """
    if c_i is None:
        inv = 1 / (n_i + n_f)  # one complex division, reused
        r = (n_i - n_f) * inv
        return (r if pol == "s" else -r), 2 * n_i * inv
    if pol == "s":
        a, b = n_i * c_i, n_f * c_f
        inv = 1 / (a + b)
        return (a - b) * inv, 2 * a * inv
    a, b = n_f * c_i, n_i * c_f
    inv = 1 / (a + b)
    return (a - b) * inv, 2 * n_i * c_i * inv


def coherent_solve(pol: str, n: np.ndarray, d: np.ndarray, wavelengths_nm: np.ndarray,
                   xi: np.ndarray, cos0: np.ndarray | None = None) -> CoherentSolution:
    """Solve one polarisation through coherent stacks.

    Parameters
    ----------
    pol : {"s", "p"}
        Polarisation (ValueError otherwise).
    n : complex array_like, shape [N, B, W]
        Indices n + ik (k >= 0) of the N >= 2 media, incident medium first, exit medium last.
    d : array_like, shape [N, B]
        Thicknesses, nm (>= 0); the entries of the two semi-infinite media are ignored.
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm (> 0; not re-checked here, the callers validate them).
    xi : array_like, broadcastable to [B, W]
        In-plane wavevector n_0 sin(theta_0), real (0 at normal incidence).
    cos0 : complex array_like, shape [B, W], optional
        cos(theta_0) in the incident medium, to keep the exact value of a real angle
        (else from ``forward_cos``).

    Returns
    -------
    CoherentSolution
        Amplitudes and R, T, absorption of every medium for this polarisation.

    References
    ----------
    S. J. Byrnes, "Multilayer optical calculations", arXiv:1603.02720 (2016).
    """
    if pol not in ("s", "p"):
        raise ValueError(f"polarization must be 's' or 'p', got {pol!r}")
    n = np.asarray(n, dtype=complex)
    n_media, n_batch, n_wl = n.shape
    lam = np.asarray(wavelengths_nm, dtype=float)
    d = np.array(d, dtype=float, copy=True)
    d[0] = 0.0
    d[-1] = 0.0
    xi = np.broadcast_to(np.asarray(xi, dtype=float), (n_batch, n_wl))

    normal = not np.any(xi)
    # media whose index is the same in every stack of the batch (in a study, all but the few
    # layers whose material varies): at normal incidence their interfaces, and the propagators of
    # those that also share a thickness, are computed once for the batch
    shared = [n_batch > 1 and normal and bool(np.all(n[j] == n[j, :1])) for j in range(n_media)]
    if normal:
        # normal incidence: cos(theta) = 1 in every medium (kept broadcastable), every wave forward
        cos_t = np.ones((n_media, 1, 1), dtype=complex)
        kz = (2 * np.pi / lam) * n
        if any(a and b for a, b in zip(shared[:-1], shared[1:])):
            r_if = np.empty((n_media - 1, n_batch, n_wl), dtype=complex)
            t_if = np.empty_like(r_if)
            for j in range(n_media - 1):
                one = slice(0, 1) if shared[j] and shared[j + 1] else slice(None)
                r_if[j], t_if[j] = interface_coefficients(pol, n[j, one], n[j + 1, one], None, None)
        else:
            r_if, t_if = interface_coefficients(pol, n[:-1], n[1:], None, None)
    else:
        cos_t = forward_cos(n, xi[None])
        if cos0 is not None:
            cos_t[0] = cos0
        kz = (2 * np.pi / lam) * n * cos_t
        r_if, t_if = interface_coefficients(pol, n[:-1], n[1:], cos_t[:-1], cos_t[1:])
    # one-pass propagators of the finite layers, |phase| <= 1 (the media have d = 0)
    # (i d) kz: the same products as i kz d, one complex multiplication fewer
    phase = np.empty((n_media, n_batch, n_wl), dtype=complex)
    phase[0] = phase[-1] = 1.0
    fixed = [shared[j] and bool(np.all(d[j] == d[j, 0])) for j in range(n_media)]
    if any(fixed[1:-1]):
        for j in range(1, n_media - 1):
            one = slice(0, 1) if fixed[j] else slice(None)
            phase[j] = np.exp(kz[j, one] * (1j * d[j, one, None]))
    else:
        np.exp(kz[1:-1] * (1j * d[1:-1, :, None]), out=phase[1:-1])
    phase2 = phase * phase

    # back to front: rho[j] = backward/forward at the back face of medium j,
    # gamma[j] = rho[j] exp(2 i delta_j) the same ratio at its front face
    rho = np.empty((n_media, n_batch, n_wl), dtype=complex)
    gamma = np.empty((n_media, n_batch, n_wl), dtype=complex)
    rho[-1] = gamma[-1] = 0.0
    inv_denom = np.empty_like(r_if)  # 1 / (1 + r_{j,j+1} Gamma_{j+1}), used twice
    for j in range(n_media - 2, -1, -1):
        inv_denom[j] = 1 / (1 + r_if[j] * gamma[j + 1])
        rho[j] = (r_if[j] + gamma[j + 1]) * inv_denom[j]
        gamma[j] = rho[j] * phase2[j]

    # front to back: forward amplitudes at the front face of each medium
    v = np.empty((n_media, n_batch, n_wl), dtype=complex)
    v[0] = 1.0
    for j in range(n_media - 1):
        out = v[j + 1]  # v[j] * prop * t * inv_denom in that order, without temporaries
        np.multiply(v[j], phase[j] if j > 0 else 1.0, out=out)
        np.multiply(out, t_if[j], out=out)
        np.multiply(out, inv_denom[j], out=out)

    r = rho[0]
    t = v[-1]
    c0 = cos_t[0]
    c0p = c0 if pol == "s" else np.conj(c0)
    cfp = cos_t[-1] if pol == "s" else np.conj(cos_t[-1])
    norm0 = (n[0] * c0p).real
    # an evanescent "incident" medium (only met in backward solves beyond TIR)
    # carries no power in: T and power_entering are 0 there
    safe = np.where(norm0 == 0, 1.0, norm0)
    T = np.where(norm0 == 0, 0.0, np.abs(t) ** 2 * (n[-1] * cfp).real / safe)
    if pol == "s":
        flux_in = (n[0] * c0 * (1 + np.conj(r)) * (1 - r)).real
    else:
        flux_in = (n[0] * np.conj(c0) * (1 + r) * (1 - np.conj(r))).real
    power_entering = np.where(norm0 == 0, 0.0, flux_in / safe)
    return CoherentSolution(
        pol=pol, wavelengths_nm=lam, n=n, cos_theta=cos_t, kz=kz, d=d, v=v, rho=rho, gamma=gamma,
        r=r, t=t, R=np.abs(r) ** 2, T=T, power_entering=power_entering,
    )


def unpolarized_rta(n: np.ndarray, k0d: np.ndarray, xi2: np.ndarray,
                    take: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R, T and the absorptance of every finite layer for unpolarised light (mean of s and p).

    The same physics and numerics as ``coherent_solve`` + ``CoherentSolution.layer_absorption``
    (equal to round-off), for callers that need only the powers of many stacks at many angles (the
    facets of a texture). s and p share everything that does not depend on the polarisation: the
    cosines, the propagators exp(i kz d) and their squares; both are written with one admittance
    Y (s: n cos theta; p: cos theta / n), so that r = (Y_i - Y_f) / (Y_i + Y_f), t = 1 + r for s and
    (1 + r) n_i / n_f for p, and the Poynting flux at the front face of medium j is

        F_j = |v_j|^2 w_j [Re(Y_j) (1 - |Gamma_j|^2) + 2 Im(Y_j) Im(Gamma_j)] / (w_0 Re(Y_0)),

    w = 1 for s, |n|^2 for p (Byrnes eq. 21 with Ef = v, Eb = v Gamma). The two polarisations run
    through the recursions side by side.

    Parameters
    ----------
    n : complex ndarray, shape [N, ...]
        Indices n + ik (k >= 0) of the N >= 2 media, incident medium first; the trailing axes
        broadcast with those of ``k0d`` and ``xi2`` (an index that does not depend on the angle
        can keep a length-1 angle axis: what depends on n alone is computed on that small array).
        The incident medium must carry power (lossless, xi below its index).
    k0d : real ndarray, broadcastable to n's shape
        2 pi d / lambda of each medium (d in nm, lambda in nm; 0 for the two semi-infinite media).
    xi2 : real ndarray, broadcastable to n.shape[1:]
        Square of the in-plane wavevector xi = n_0 sin(theta_0).
    take : int ndarray [S], optional
        Stacks as columns of the last axis: the media of stack s are ``n[..., take[s]]`` (and
        ``k0d[..., take[s]]``), so that many (wavelength, angle) pairs and several stacks are solved
        in one call while what depends on the index alone is computed once per column; ``xi2``
        then broadcasts to [..., S].

    Returns
    -------
    R, T : ndarray, the broadcast shape of n.shape[1:], k0d.shape[1:] and xi2
    A : ndarray, [N - 2, ...] absorptance of each finite layer (>= 0; exactly 0 for a lossless
        or zero-thickness layer), so that R + T + A.sum(0) = 1 to round-off.

    References
    ----------
    S. J. Byrnes, "Multilayer optical calculations", arXiv:1603.02720 (2016).
    """
    n = np.asarray(n, dtype=complex)
    k0d = np.asarray(k0d, dtype=float)
    n_media = n.shape[0]
    n2 = n * n  # what depends on the index alone: on the (small) index array
    inv_n2 = 1 / n2
    n2r, n2i = n2.real.copy(), n2.imag.copy()
    w_p = n.real ** 2 + n.imag ** 2
    ratio2 = w_p[:-1] / w_p[1:]  # |t_p / (1 + r_p)|^2 = |n_i / n_f|^2
    inert = (n[1:-1].imag == 0) | (k0d[1:-1] == 0)
    if take is not None:
        n2r, n2i, inv_n2, ratio2, w_p, k0d, inert = (np.take(a, take, axis=-1)
                                                     for a in (n2r, n2i, inv_n2, ratio2, w_p, k0d, inert))
    # n cos(theta) = sqrt(n^2 - xi^2) = sqrt(X + iY) in real arithmetic, without cancellation
    # (faster than the complex sqrt): a + ib for X >= 0, b + ia for X < 0
    big_x, big_y = np.broadcast_arrays(n2r - xi2, n2i)
    a = np.sqrt(0.5 * (np.sqrt(big_x * big_x + big_y * big_y) + np.abs(big_x)))
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.where(a > 0, 0.5 * big_y / a, 0.0)
    pos = big_x >= 0
    nc = np.empty(big_x.shape, dtype=complex)
    nc.real = np.where(pos, a, b)
    nc.imag = np.where(pos, b, a)
    # the forward wave (``forward_cos``): decaying, or carrying power forward when lossless. With
    # k >= 0 and n > 0, Y = 2nk >= 0 and this root already has Re, Im >= 0
    if np.any(big_y < 0):
        np.negative(nc, out=nc, where=pos & (b < -100 * _EPS))
    shape = nc.shape
    y = np.empty((2,) + shape, dtype=complex)  # admittances: s, p
    y[0] = nc
    np.multiply(nc, inv_n2, out=y[1])
    n_in = n_media - 2
    if n_in:
        phase = np.exp((1j * k0d[1:-1]) * nc[1:-1])  # |phase| <= 1: forward waves decay
        # a layer whose single pass leaves < 1e-30 of the power is opaque: what crosses it is
        # below round-off; a 0 there keeps the products clear of subnormal floats (100x slower)
        ph_abs2 = np.exp(-2 * k0d[1:-1] * nc[1:-1].imag)
        opaque = ph_abs2 < 1e-30
        np.copyto(phase, 0.0, where=opaque)
        np.copyto(ph_abs2, 0.0, where=opaque)
        phase2 = phase * phase
    # back to front, the Airy recursion with r = (Y_j - Y_j+1) / (Y_j + Y_j+1) substituted (one
    # division per interface): with u = Y_j (1 + Gamma_j+1), w = Y_j+1 (1 - Gamma_j+1),
    #   rho_j = (u - w) / (u + w),  t_j / (1 + r_j Gamma_j+1) = 2 Y_j / (u + w) (x n_j / n_j+1 for p)
    gamma = np.empty((2, n_media) + shape[1:], dtype=complex)
    gamma[:, -1] = 0.0
    inv = np.empty((2, n_media - 1) + shape[1:], dtype=complex)  # 1 / (u + w)
    for j in range(n_media - 2, -1, -1):
        if j == n_media - 2:  # nothing returns from the exit medium
            u, w = y[:, j], y[:, j + 1]
        else:
            g1 = gamma[:, j + 1]
            u = 1 + g1
            u *= y[:, j]
            w = 1 - g1
            w *= y[:, j + 1]
        d_j = inv[:, j]
        np.add(u, w, out=d_j)
        np.divide(1, d_j, out=d_j)
        g = gamma[:, j]
        np.subtract(u, w, out=g)
        g *= d_j
        if j:
            g *= phase2[j - 1]
    rho0 = gamma[:, 0]
    # |v|^2 of the forward wave at the front face of media 1 .. N-1: v[j + 1] = v[j] phase[j] tau[j]
    v2 = np.square(inv.real)
    v2 += np.square(inv.imag)
    y_in = y[:, :-1]
    v2 *= np.square(y_in.real) + np.square(y_in.imag)
    v2 *= 4
    v2[1] *= ratio2
    if n_in:
        v2[:, 1:] *= ph_abs2
    for j in range(1, n_media - 1):  # a running product (contiguous slices: faster than cumprod)
        v2[:, j] *= v2[:, j - 1]

    w = np.empty((2,) + w_p.shape, dtype=float)
    w[0] = 1.0
    w[1] = w_p
    y0 = y[:, 0].real * w[:, 0]
    norm = np.where(y0 > 0, y0, np.inf)  # an evanescent incident medium carries no power in
    ym, gm = y[:, 1:], gamma[:, 1:]
    flux = np.square(gm.real)
    flux += np.square(gm.imag)
    np.subtract(1, flux, out=flux)
    flux *= ym.real
    cross = ym.imag * gm.imag
    cross *= 2
    flux += cross
    flux *= v2
    flux *= w[:, 1:] / norm[:, None]
    R = 0.5 * ((rho0.real ** 2 + rho0.imag ** 2).sum(0))
    T = 0.5 * flux[:, -1].sum(0)
    if not n_in:
        return R, T, np.zeros((0,) + R.shape)
    a = flux[:, :-1] - flux[:, 1:]
    np.maximum(a, 0.0, out=a)
    A = 0.5 * a.sum(0)
    return R, T, np.where(inert, 0.0, A)
