"""Batched Poisson drift-diffusion of thin-film absorbers: the fast model's correction where it fails.

The closed-form collection of ``tandem.collection`` is linear in the generation G(z). In slow
films whose drift length mu (tau_e + tau_h) V_bi / d is below about twice the film, light
absorbed near the front leaves the carrier that has to cross the film in the majority, where
Shockley-Read-Hall pair recombination spares it, and the separated carriers' space charge bends
the field: a drift-diffusion solution then collects up to twice as much. This module solves that
regime directly, for many designs and voltages at once.

Model (the one of the Sesame reference, ``tandem.drift_diffusion``): an undoped absorber
between two Schottky-type selective contacts whose equilibrium Fermi levels lie
(E_g - V_bi) / 2 below the conduction band (electron contact) and above the valence band
(hole contact), so that they build in V_bi; at each contact the carrier it collects is
extracted at ``S_EXTRACT`` and the carrier it blocks recombines at the transport's interface
velocity. In the absorber, with psi the electrostatic potential and phi_n, phi_p the
quasi-Fermi levels (units of kT), n = N_c exp(psi + phi_n), p = N_v exp(-E_g/kT - psi - phi_p):

    d/dx (eps dpsi/dx) = -q (p - n)                      (Poisson)
    dF_n/dx = G - R,  dF_p/dx = G - R                    (continuity; F the particle fluxes)
    R = (n p - n_i^2) / (tau_h (n + n_i) + tau_e (p + n_i))   (SRH through mid-gap traps)

[Shockley & Read, Phys. Rev. 87, 835 (1952), doi:10.1103/PhysRev.87.835]. Discretisation:
box integration on a mesh clustered at both faces, fluxes between nodes by Scharfetter-Gummel
[Scharfetter & Gummel, IEEE Trans. Electron Devices 16, 64 (1969), doi:10.1109/T-ED.1969.16566;
Selberherr, Analysis and Simulation of Semiconductor Devices (Springer 1984), ch. 6,
doi:10.1007/978-3-7091-8752-4]::

    F_n(i+1/2) = D_n / h [n_i B(-dpsi) - n_(i+1) B(dpsi)],   B(x) = x / (exp(x) - 1),
    F_p(i+1/2) = D_p / h [p_i B(dpsi) - p_(i+1) B(-dpsi)],

and the generation integrated exactly over each box (so the generated current is the optics').
The coupled system is solved by damped Newton iterations (analytic Jacobian), all designs and
voltages stacked into one banded linear system per iteration (LAPACK gbsv through
``scipy.linalg.solve_banded``). The terminal current J = q (F_p - F_n) is the same at every cell
edge (tested); photocurrent positive.

Units: nm for thicknesses and depths, cm^-3 s^-1 for G, mA/cm^2 for currents, V, cm^2/(V s), ns.
"""
from __future__ import annotations

import numpy as np

from optics.spectra import K_B, Q_E

from .transport import Transport

__all__ = ["S_EXTRACT", "NC_CM3", "EPSILON_R", "MESH_POINTS", "DRIFT_RATIO_MIN", "drift_over_film", "mesh",
           "box_generation", "solve", "photocurrent"]

#: extraction velocity of a contact for the carrier it collects, cm/s (as the Sesame reference)
S_EXTRACT = 1e7
#: band-edge densities of states N_c = N_v (cm^-3) and relative permittivity: the reference's defaults
NC_CM3 = 2e18
EPSILON_R = 10.0
#: nodes of the depth mesh (clustered at both faces)
MESH_POINTS = 48
#: below this drift length / film, mu (tau_e + tau_h) V_bi / d^2, the closed form is not trusted
DRIFT_RATIO_MIN = 2.0
_EPS0 = 8.8541878128e-14  # F/cm


def drift_over_film(transport, thickness_nm) -> np.ndarray:
    """mu (tau_e + tau_h) V_bi / d over d, with mu the slower carrier's mobility (dimensionless).

    ``transport``: one ``Transport`` (``thickness_nm`` any shape), or a sequence of P of them
    (``thickness_nm`` [P]: one film each)."""
    single = isinstance(transport, Transport)
    ts = [transport] if single else list(transport)
    mu_tau_v = np.array([min(t.mobility_e_cm2_vs, t.mobility_h_cm2_vs) * (t.lifetime_e_ns + t.lifetime_h_ns) * 1e-9
                         * t.vbi_v for t in ts], dtype=float)
    d_cm = np.asarray(thickness_nm, dtype=float) * 1e-7
    return (mu_tau_v[0] if single else mu_tau_v) / (d_cm * d_cm)


def mesh(points: int = MESH_POINTS) -> np.ndarray:
    """Relative depths s = z / d of the nodes, cosine-clustered at both faces (contact boundary layers)."""
    return (1 - np.cos(np.pi * np.linspace(0.0, 1.0, points))) / 2


def box_generation(s_nodes, z_nm, g_cm3_s, thickness_nm) -> np.ndarray:
    """Generation integrated over each node's box (cm^-2 s^-1), from G sampled at depths z_nm.

    Parameters
    ----------
    s_nodes : [N] relative node depths; z_nm : [Z] increasing depths (nm) covering [0, d];
    g_cm3_s : [..., Z] generation rate (cm^-3 s^-1); thickness_nm : d (nm).
    The box of node i spans the midpoints to its neighbours; the integral is the trapezoid
    rule on the fine grid, so the boxes add up to q int G dz of the samples.
    """
    z = np.asarray(z_nm, dtype=float)
    g = np.asarray(g_cm3_s, dtype=float)
    cum = np.concatenate([np.zeros(g.shape[:-1] + (1,)),
                          np.cumsum((g[..., 1:] + g[..., :-1]) / 2 * np.diff(z) * 1e-7, axis=-1)], axis=-1)
    edges = np.concatenate([[0.0], (s_nodes[1:] + s_nodes[:-1]) / 2, [1.0]]) * thickness_nm
    ce = np.stack([np.interp(edges, z, c) for c in cum.reshape(-1, z.size)]).reshape(g.shape[:-1] + (edges.size,))
    return np.diff(ce, axis=-1)


def _bern(x):
    """B(x) = x / (exp(x) - 1) and its derivative, stable at 0."""
    small = np.abs(x) < 1e-4
    xs = np.where(small, 1.0, x)
    em = np.expm1(xs)
    b = np.where(small, 1 - x / 2 + x * x / 12, xs / em)
    bm = b + x  # B(-x) = B(x) + x
    db = np.where(small, -0.5 + x / 6, (b - b * bm) / xs)
    return b, bm, db


class _Problem:
    """Arrays of one batch [B] on a common relative mesh [N] (all in nip orientation)."""

    def __init__(self, d_nm, mu_e, mu_h, tau_e_s, tau_h_s, s_hole_at_e, s_e_at_hole, vbi, eg, gbox, temp, s_nodes,
                 space_charge=True):
        self.vt = K_B * temp / Q_E                      # [B]
        d_cm = d_nm * 1e-7
        self.h = np.diff(s_nodes)[None, :] * d_cm[:, None]          # [B, N-1] cm
        self.hb = np.concatenate([self.h[:, :1] / 2, (self.h[:, 1:] + self.h[:, :-1]) / 2, self.h[:, -1:] / 2],
                                 axis=1)
        self.dn, self.dp = (mu_e * self.vt)[:, None], (mu_h * self.vt)[:, None]
        self.te, self.th = tau_e_s[:, None], tau_h_s[:, None]
        self.eg = (eg / self.vt)[:, None]
        off = ((eg - vbi) / 2 / self.vt)[:, None]
        self.off = off
        self.nc = NC_CM3
        self.ni2 = NC_CM3 * NC_CM3 * np.exp(-self.eg)
        self.n1 = np.sqrt(self.ni2)
        # equilibrium densities at the electron (left) and hole (right) contacts
        self.n0l, self.p0l = NC_CM3 * np.exp(-off), NC_CM3 * np.exp(-(self.eg - off))
        self.n0r, self.p0r = NC_CM3 * np.exp(-(self.eg - off)), NC_CM3 * np.exp(-off)
        self.snl, self.spl = S_EXTRACT, s_hole_at_e[:, None]
        self.snr, self.spr = s_e_at_hole[:, None], S_EXTRACT
        # cm per cm^-3; without space charge the potential is linear (the closed form's uniform field)
        self.lam = Q_E / (EPSILON_R * _EPS0 * self.vt)[:, None] * (1.0 if space_charge else 0.0)
        self.gbox = gbox                                            # [B, N] cm^-2 s^-1
        # flux scale: the generated flux, at least that of 1 mA/cm^2 (the dark)
        self.fs = np.maximum(gbox.sum(axis=1), 1e-3 / Q_E)[:, None]
        self.d_cm = d_cm[:, None]
        self.b = d_nm.size
        self.n = s_nodes.size

    def psi_bc(self, v):
        """Boundary potentials (kT units) at the left (electron) and right (hole) contact for voltage v (V)."""
        return -self.off[:, 0], (np.asarray(v) / self.vt + self.off[:, 0] - self.eg[:, 0])

    def densities(self, u):
        """Electron and hole densities (cm^-3) of the solution u [B, N, 3]."""
        return self.nc * np.exp(u[..., 0] + u[..., 1]), self.nc * np.exp(-self.eg - u[..., 0] - u[..., 2])

    def residual(self, u, v, jac=True):
        """Scaled residuals [B, N, 3] and the Jacobian blocks [B, N, 3, 3 (offset -1, 0, +1), 3]."""
        psi, a, b = u[..., 0], u[..., 1], u[..., 2]
        n = self.nc * np.exp(psi + a)
        p = self.nc * np.exp(-self.eg - psi - b)
        dpsi = psi[:, 1:] - psi[:, :-1]
        bb, bm, db = _bern(dpsi)
        dbm = db + 1.0  # d B(-x) / dx, from B(-x) = B(x) + x
        kn, kp = self.dn / self.h, self.dp / self.h
        fn = kn * (n[:, :-1] * bm - n[:, 1:] * bb)
        fp = kp * (p[:, :-1] * bb - p[:, 1:] * bm)
        num = n * p - self.ni2
        den = self.th * (n + self.n1) + self.te * (p + self.n1)
        rec = num / den
        net = self.gbox - rec * self.hb
        fnl, fnr = -self.snl * (n[:, 0] - self.n0l[:, 0]), self.snr[:, 0] * (n[:, -1] - self.n0r[:, 0])
        fpl, fpr = -self.spl[:, 0] * (p[:, 0] - self.p0l[:, 0]), self.spr * (p[:, -1] - self.p0r[:, 0])
        fn_all = np.concatenate([fnl[:, None], fn, fnr[:, None]], axis=1)  # [B, N+1] box faces
        fp_all = np.concatenate([fpl[:, None], fp, fpr[:, None]], axis=1)
        r = np.empty(u.shape)
        r[..., 1] = (fn_all[:, 1:] - fn_all[:, :-1] - net) / self.fs
        r[..., 2] = (fp_all[:, 1:] - fp_all[:, :-1] - net) / self.fs
        dps = dpsi / self.h
        pois = np.zeros_like(psi)
        pois[:, 1:-1] = dps[:, 1:] - dps[:, :-1] + self.lam * (p - n)[:, 1:-1] * self.hb[:, 1:-1]
        psl, psr = self.psi_bc(v)
        pois[:, 0] = psi[:, 0] - psl
        pois[:, -1] = psi[:, -1] - psr
        r[..., 0] = pois * np.where(np.arange(self.n) % (self.n - 1) == 0, 1.0, self.d_cm)
        if not jac:
            return r, (fn, fp)
        J = np.zeros(u.shape[:2] + (3, 3, 3))
        # --- Poisson rows
        d = self.d_cm
        inner = slice(1, -1)
        J[:, inner, 0, 0, 0] = d / self.h[:, :-1]
        J[:, inner, 0, 2, 0] = d / self.h[:, 1:]
        J[:, inner, 0, 1, 0] = d * (-1 / self.h[:, 1:] - 1 / self.h[:, :-1]
                                    - self.lam * (p + n)[:, inner] * self.hb[:, inner])
        J[:, inner, 0, 1, 1] = -d * self.lam * n[:, inner] * self.hb[:, inner]
        J[:, inner, 0, 1, 2] = -d * self.lam * p[:, inner] * self.hb[:, inner]
        J[:, 0, 0, 1, 0] = 1.0
        J[:, -1, 0, 1, 0] = 1.0
        # --- flux derivatives on the N-1 inner faces: d F / d (psi_i, psi_i+1, a|b_i, a|b_i+1)
        fn_pi = kn * (n[:, :-1] * bm - n[:, :-1] * dbm + n[:, 1:] * db)
        fn_pj = kn * (n[:, :-1] * dbm - n[:, 1:] * bb - n[:, 1:] * db)
        fn_ai, fn_aj = kn * n[:, :-1] * bm, -kn * n[:, 1:] * bb
        fp_pi = kp * (-p[:, :-1] * bb - p[:, :-1] * db + p[:, 1:] * dbm)
        fp_pj = kp * (p[:, :-1] * db + p[:, 1:] * bm - p[:, 1:] * dbm)
        fp_bi, fp_bj = -kp * p[:, :-1] * bb, kp * p[:, 1:] * bm
        # recombination derivatives (per node)
        drn = (p * den - num * self.th) / den**2
        drp = (n * den - num * self.te) / den**2
        r_psi = (drn * n - drp * p) * self.hb
        r_a = drn * n * self.hb
        r_b = -drp * p * self.hb
        for comp, (f_pi, f_pj, f_xi, f_xj) in ((1, (fn_pi, fn_pj, fn_ai, fn_aj)), (2, (fp_pi, fp_pj, fp_bi, fp_bj))):
            blk = np.zeros(u.shape[:2] + (3, 3))  # [B, N, offset, var]
            # + F(i+1/2): depends on node i (offset 0) and i+1 (offset +1)
            blk[:, :-1, 1, 0] += f_pi
            blk[:, :-1, 2, 0] += f_pj
            blk[:, :-1, 1, comp] += f_xi
            blk[:, :-1, 2, comp] += f_xj
            # - F(i-1/2): node i-1 (offset -1) and i (offset 0)
            blk[:, 1:, 0, 0] -= f_pi
            blk[:, 1:, 1, 0] -= f_pj
            blk[:, 1:, 0, comp] -= f_xi
            blk[:, 1:, 1, comp] -= f_xj
            # contacts: - F_left at node 0, + F_right at node N-1
            if comp == 1:
                blk[:, 0, 1, 0] += self.snl * n[:, 0]
                blk[:, 0, 1, 1] += self.snl * n[:, 0]
                blk[:, -1, 1, 0] += self.snr[:, 0] * n[:, -1]
                blk[:, -1, 1, 1] += self.snr[:, 0] * n[:, -1]
            else:
                blk[:, 0, 1, 0] -= self.spl[:, 0] * p[:, 0]
                blk[:, 0, 1, 2] -= self.spl[:, 0] * p[:, 0]
                blk[:, -1, 1, 0] -= self.spr * p[:, -1]
                blk[:, -1, 1, 2] -= self.spr * p[:, -1]
            blk[:, :, 1, 0] += r_psi
            blk[:, :, 1, 1] += r_a
            blk[:, :, 1, 2] += r_b
            J[:, :, comp] = blk / self.fs[:, :, None, None]
        return r, J


def _band_indices(b, n):
    """Positions in LAPACK band storage (5 sub-, 5 super-diagonals) of the Jacobian blocks."""
    node = np.arange(n)
    rows, cols, keep = [], [], []
    for cr in range(3):
        for o in range(3):
            for cv in range(3):
                j = node + o - 1
                ok = (j >= 0) & (j < n)
                rows.append(5 + cr - cv - 3 * (o - 1))
                cols.append(3 * j + cv)
                keep.append(ok)
    rows = np.array(rows)[:, None] * np.ones(n, dtype=int)
    cols = np.array(cols)
    keep = np.array(keep)
    base = (np.arange(b) * 3 * n)[:, None, None]
    return rows, cols, keep, base


def _newton(prob, u, v, tol=1e-9, floor=1e-4, maxiter=60, active=None):
    """Damped Newton on all rows at once; returns (u, converged [B]).

    A row has converged when its largest update (kT units: the potential, and each quasi-Fermi
    level times its carrier's share n / (n + p) or p / (n + p) of the local density) is below
    ``tol``, or below ``floor`` once the updates stop shrinking quadratically (round-off floor): the
    quasi-Fermi level of a negligible carrier (1e-10 cm^-3 next to 1e18) is fixed by round-off only.
    """
    from scipy.linalg import solve_banded  # only slow films get here: keep it off the start-up path

    b, n = prob.b, prob.n
    rows, cols, keep, base = _band_indices(b, n)
    m = b * 3 * n
    done = np.zeros(b, dtype=bool)
    last = np.full(b, np.inf)
    failed = np.zeros(b, dtype=bool) if active is None else ~active  # rows already lost are not iterated
    gcols = (base + cols[None]).reshape(b, 27, n)
    sel = np.broadcast_to(keep[None], (b, 27, n))
    rr, gc = np.broadcast_to(rows[None], (b, 27, n))[sel], gcols[sel]
    for _ in range(maxiter):
        r, J = prob.residual(u, v)
        # a row that went non-finite would poison the shared LU (0 * nan): freeze it as failed
        bad = ~(np.isfinite(r).all(axis=(1, 2)) & np.isfinite(J).all(axis=(1, 2, 3, 4)))
        if bad.any():
            failed |= bad
            r[bad] = 0.0
            J[bad] = 0.0
            for q in np.flatnonzero(bad):
                J[q, :, [0, 1, 2], 1, [0, 1, 2]] = 1.0
        # J [B, N, 3 (row var), 3 (offset), 3 (col var)] -> order (row var, offset, col var, node)
        vals = J.transpose(0, 2, 3, 4, 1).reshape(b, 27, n)
        ab = np.zeros((11, m))
        ab[rr, gc] = vals[sel]
        try:
            du = solve_banded((5, 5), ab, -r.reshape(-1), check_finite=False).reshape(u.shape)
        except np.linalg.LinAlgError:  # a singular row (densities underflowed): solve row by row, fail it
            du = np.zeros_like(u)
            w = 3 * n
            for q in np.flatnonzero(~(done | failed)):
                try:
                    du[q] = solve_banded((5, 5), ab[:, q * w:(q + 1) * w], -r[q].reshape(-1),
                                         check_finite=False).reshape(n, 3)
                except np.linalg.LinAlgError:
                    failed[q] = True
        du[done | failed] = 0.0
        # size of the update: the potential, and each quasi-Fermi level weighted by its carrier's
        # share of the local density (a negligible carrier's level is fixed by round-off only)
        n_, p_ = prob.densities(u)
        share = n_ / (n_ + p_)
        step = np.maximum(np.abs(du[..., 0]), np.maximum(np.abs(du[..., 1]) * share,
                                                         np.abs(du[..., 2]) * (1 - share))).max(axis=1)
        # damping: a step above 1 kT grows only logarithmically (keeps the exponentials in range)
        big = np.abs(du) > 1.0
        du = np.where(big, np.sign(du) * (1.0 + np.log(np.where(big, np.abs(du), 1.0))), du)
        u = u + du
        done |= ((step < tol) | ((step < floor) & (step > 0.1 * last))) & ~failed
        last = np.where(done, last, step)
        if (done | failed).all():
            break
    return u, done & ~failed & np.isfinite(u).all(axis=(1, 2))


def _current(prob, u, v):
    """Terminal current (mA/cm^2, photocurrent positive) at every inner cell edge [B, N-1]."""
    _, (fn, fp) = prob.residual(u, v, jac=False)
    return Q_E * (fp - fn) * 1e3


def solve(thickness_nm, transports, bandgap_ev, gbox, voltages_v, temperature_k=298.15, s_nodes=None,
          full=False, space_charge=True):
    """Terminal current (mA/cm^2, photocurrent positive) of B absorbers at K voltages each.

    Parameters
    ----------
    thickness_nm : [B] absorber thickness (nm).
    transports : B ``Transport`` with architecture "pin" or "nip".
    bandgap_ev : [B] absorber gap (eV, > V_bi).
    gbox : [B, N] generation per node box (cm^-2 s^-1) on ``s_nodes`` measured from the light side
        (``box_generation``); zeros for the dark.
    voltages_v : [K] applied voltages (V), any order; each is reached by continuation from 0 V.
    s_nodes : [N] relative mesh (default ``mesh()``).
    full : also return the per-edge currents [B, K, N-1] and the solutions [B, K, N, 3]
        (psi, phi_n, phi_p in kT units, nip orientation).
    space_charge : False drops the carriers' charge from Poisson's equation, leaving the uniform
        field (V_bi - V) / d of the closed form (for studying what the space charge does).

    Returns
    -------
    j : [B, K], NaN where Newton did not converge.
    """
    s_nodes = mesh() if s_nodes is None else np.asarray(s_nodes, dtype=float)
    d = np.atleast_1d(np.asarray(thickness_nm, dtype=float))
    b = d.size
    gbox = np.asarray(gbox, dtype=float).reshape(b, s_nodes.size)
    volts = np.atleast_1d(np.asarray(voltages_v, dtype=float))
    par = {k: np.array([getattr(t, k) for t in transports], dtype=float) for k in (
        "mobility_e_cm2_vs", "mobility_h_cm2_vs", "lifetime_e_ns", "lifetime_h_ns", "vbi_v", "s_front_cm_s",
        "s_back_cm_s")}
    pin = np.array([t.architecture == "pin" for t in transports])
    if any(t.architecture not in ("pin", "nip") for t in transports):
        raise ValueError("tandem.dd_batch solves thin-film ('pin'/'nip') absorbers")
    eg = np.broadcast_to(np.asarray(bandgap_ev, dtype=float), (b,))
    if np.any(par["vbi_v"] >= eg):
        raise ValueError("tandem.dd_batch: V_bi must lie below the absorber gap")
    # nip orientation (electron contact at s = 0): a pin absorber is mirrored
    g_or = np.where(pin[:, None], gbox[:, ::-1], gbox)
    s_or = 1 - s_nodes[::-1]
    if not np.allclose(s_or, s_nodes):
        raise ValueError("tandem.dd_batch: the mesh must be symmetric about the middle of the film")
    # S of the hole at the electron contact / of the electron at the hole contact
    s_he = np.where(pin, par["s_back_cm_s"], par["s_front_cm_s"])
    s_eh = np.where(pin, par["s_front_cm_s"], par["s_back_cm_s"])
    temps = np.broadcast_to(np.asarray(temperature_k, dtype=float), (b,))
    volts = np.broadcast_to(volts, (b, volts.shape[-1])) if volts.ndim == 1 else volts
    if volts.shape[0] != b:
        raise ValueError("tandem.dd_batch: voltages_v must be [K] or [B, K]")
    k = volts.shape[1]
    prob = _Problem(d, par["mobility_e_cm2_vs"], par["mobility_h_cm2_vs"], par["lifetime_e_ns"] * 1e-9,
                    par["lifetime_h_ns"] * 1e-9, s_he, s_eh, par["vbi_v"], eg, g_or, temps, s_nodes, space_charge)
    u, ok = _start(prob, s_nodes)
    j = np.full((b, k), np.nan)
    edges = np.full((b, k, s_nodes.size - 1), np.nan)
    sols = np.full((b, k, s_nodes.size, 3), np.nan)
    # continuation away from 0 V: forward voltages in increasing order, then reverse ones in
    # decreasing order; a row whose voltage at a step lies on the other side stays where it is
    order = np.argsort(volts, axis=1, kind="stable")
    rows = np.arange(b)
    for forward in (True, False):
        uu, good, v_now = u.copy(), ok.copy(), np.zeros(b)
        for q in (range(k) if forward else range(k - 1, -1, -1)):
            col = order[:, q]
            v_q = volts[rows, col]
            mine = (v_q >= 0) if forward else (v_q < 0)
            target = np.where(mine, v_q, v_now)
            if not mine.any():
                continue
            uu, conv = _ramp(prob, uu, s_nodes, v_now, target, active=good)
            good &= conv
            v_now = target
            cur = _current(prob, uu, v_now)
            put = good & mine
            j[rows[put], col[put]] = cur[put].mean(axis=1)
            edges[rows[put], col[put]] = cur[put]
            sols[rows[put], col[put]] = uu[put]
    if full:
        return j, edges, sols
    return j


def _ramp(prob, u, s_nodes, v0, v1, max_step=0.5, active=None):
    """Continue the solutions from voltages v0 to v1 ([B], V) in steps of at most ``max_step`` V."""
    steps = max(1, int(np.ceil(np.max(np.abs(v1 - v0)) / max_step)))
    conv = np.ones(prob.b, dtype=bool)
    start = v0
    for f in np.linspace(0.0, 1.0, steps + 1)[1:]:
        v = start + f * (v1 - start)
        # shift the potential linearly so the boundary values match the new voltage, keeping the
        # carrier densities (both quasi-Fermi levels move with it)
        u = u.copy()
        shift = ((v - v0) / prob.vt)[:, None] * s_nodes[None, :]
        u[..., 0] += shift
        u[..., 1] -= shift
        u[..., 2] -= shift
        u, c = _newton(prob, u, v, active=conv if active is None else conv & active)
        conv &= c
        v0 = v
    return u, conv


def _start(prob, s_nodes):
    """Equilibrium potential, then the light switched on in steps (homotopy on G)."""
    psl, psr = prob.psi_bc(0.0)
    u = np.zeros((prob.b, prob.n, 3))
    u[..., 0] = psl[:, None] + (psr - psl)[:, None] * s_nodes[None, :]
    g = prob.gbox
    ok = np.ones(prob.b, dtype=bool)
    for f in (0.0, 1e-3, 1e-2, 1e-1, 1.0):
        prob.gbox = g * f
        u, c = _newton(prob, u, np.zeros(prob.b))
        ok &= c
    prob.gbox = g
    return u, ok


def photocurrent(thickness_nm, transports, bandgap_ev, z_nm, g_cm3_s, voltages_v, temperature_k=298.15,
                 points: int = MESH_POINTS) -> np.ndarray:
    """Light current minus dark current (mA/cm^2) of one absorber at ``voltages_v``, from G sampled at z_nm.

    Convenience wrapper of ``solve`` for one design (for tests and benchmarks).
    """
    s = mesh(points)
    gb = box_generation(s, z_nm, g_cm3_s, thickness_nm)[None]
    both = solve(np.array([thickness_nm] * 2), [transports] * 2, np.array([bandgap_ev] * 2),
                 np.concatenate([gb, 0 * gb]), voltages_v, temperature_k, s)
    return both[0] - both[1]


def profile_box_generation(profile, weights_ma_cm2, s_nodes) -> np.ndarray:
    """Generation per node box (cm^-2 s^-1) from closed-form absorption profiles under a spectrum.

    profile : exponential terms (coef, rate, offset) of the absorption per unit s = z / d, each [P, W]
        (``tandem.collection.profile_terms``); weights_ma_cm2 : [P, W] mA/cm^2 per unit EQE
        (``optics.spectra.jsc_weights``); s_nodes : [N] mesh. Each term is integrated exactly over
        the boxes (every exponential is bounded by 1 on [0, 1]).
    """
    edges = np.concatenate([[0.0], (s_nodes[1:] + s_nodes[:-1]) / 2, [1.0]])
    total = 0.0
    for c, r, p in profile:
        c, r, p = (np.asarray(x)[..., None] for x in (c, r, p))
        small = np.abs(r) < 1e-9
        rs = np.where(small, 1.0, r)
        f = np.where(small, np.exp(p) * edges, (np.exp(p + r * edges) - np.exp(p)) / rs)
        val = c * np.diff(f, axis=-1)
        total = total + (val.real if np.iscomplexobj(val) else val)
    w = np.asarray(weights_ma_cm2, dtype=float)[..., None] / (Q_E * 1e3)
    return np.sum(w * total, axis=-2)


def slow_rows(transports, thickness_nm) -> np.ndarray:
    """Mask of thin-film absorbers whose drift length is below DRIFT_RATIO_MIN films."""
    film = np.array([t.architecture != "wafer" for t in transports], dtype=bool)
    with np.errstate(divide="ignore"):
        return film & (drift_over_film(transports, thickness_nm) < DRIFT_RATIO_MIN)


def correction(transports, thickness_nm, bandgap_ev, temperature_k, gbox, voltages_v, s_nodes=None):
    """Drift-diffusion photocurrent (light minus dark, mA/cm^2) at voltages [P, K] of P absorbers.

    bandgap_ev : [P], NaN where the absorber does not report it (then E_g = V_bi + 0.45 V: contact
    Fermi levels 0.225 eV from the band edges, as in the CsPbI3 QD preset). NaN rows where the
    iteration failed (the caller keeps its closed form there).
    """
    p = len(transports)
    eg = np.asarray(bandgap_ev, dtype=float).copy()
    vbi = np.array([t.vbi_v for t in transports])
    eg = np.where(np.isfinite(eg) & (eg > vbi + 0.02), eg, vbi + 0.45)
    volts = np.broadcast_to(np.asarray(voltages_v, dtype=float), (p, np.shape(voltages_v)[-1]))
    gb = np.asarray(gbox, dtype=float)
    d = np.asarray(thickness_nm, dtype=float)
    j = solve(np.concatenate([d, d]), list(transports) * 2, np.concatenate([eg, eg]),
              np.concatenate([gb, 0 * gb]), np.concatenate([volts, volts]),
              np.concatenate([np.broadcast_to(np.asarray(temperature_k, dtype=float), (p,))] * 2), s_nodes)
    return j[:p] - j[p:]
