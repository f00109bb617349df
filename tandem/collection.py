"""Carrier collection in the absorber: collection efficiency eta_c(z, V) and collected EQE.

Pure, vectorised functions. Depth in the absorber is written s = z / d (0 at the
face the light enters, 1 at the back), d in nm; voltages in V; mobilities in
cm^2/(V s); lifetimes in s inside this module (ns at the edges, ``tandem.transport``).

Thin-film absorber between selective layers ("pin": hole contact in front, "nip":
electron contact in front)
-----------------------------------------------------------------------------------
Uniform field E = (V_bi - V) / d across the undoped absorber (no space charge), each
carrier drifting and diffusing (D = mu kT/q) towards its own contact and recombining
at a linear rate. By the Ramo-Shockley theorem a pair
created at s adds to the terminal current its carriers' mean displacement along the
field divided by d [Shockley, J. Appl. Phys. 9, 635 (1938), doi:10.1063/1.1710367;
Ramo, Proc. IRE 27, 584 (1939), doi:10.1109/JRPROC.1939.228757]::

    eta_c(s, V) = u_e(s) + u_h(s)

with u the expected displacement / d of one carrier. For the carrier whose wrong
(blocking) contact is at y = 0 and own contact at y = 1 (y = s or 1 - s), u solves
the backward (adjoint) drift-diffusion equation

    u'' + a u' - b^2 u = -a,   a = (V_bi - V) / (kT/q),   b^2 = d^2 / (D tau),
    u(1) = 0,                  u'(0) + 1 = h u(0),         h = S d / D,

S the recombination velocity of that carrier at its wrong contact (S = 0: perfectly
blocking; S -> inf: the contact drains it). The recombination is Shockley-Read-Hall through
mid-gap traps, which removes pairs: where one carrier is in the majority the other limits
the rate, and with n = p the rate is n / (tau_e + tau_h) [Shockley & Read, Phys. Rev. 87,
835 (1952), doi:10.1103/PhysRev.87.835]. A linear per-carrier model with tau = tau_e + tau_h
for both carriers reproduces the pair-recombination loss of uniform generation to first
order (loss d^2 / (6 mu tau_SRH (V_bi - V)) for equal parameters; the trapping (Hecht) model
with tau_SRH would count each event twice). Closed form::

    u(y) = a / b^2 + C1 exp(l+ (y - 1)) + C2 exp(l- y),  l+- = (-a +- sqrt(a^2 + 4 b^2)) / 2.

Limits: D -> 0 gives the Hecht drift collection u = (L/d)(1 - exp(-(1 - y) d / L)),
L = mu tau E [Hecht, Z. Phys. 77, 235 (1932), doi:10.1007/BF01338917; Crandall,
J. Appl. Phys. 54, 7176 (1983), doi:10.1063/1.331955, uniform-field approximation];
tau -> inf with S -> inf at both contacts and uniform generation gives the
Sokel-Hughes photocurrent eta = coth(a / 2) - 2 / a [Sokel & Hughes, J. Appl. Phys.
53, 7414 (1982), doi:10.1063/1.330110] (checked in the tests). With blocking
contacts (S = 0) and no recombination every carrier is collected at any voltage.
Known limit: the pair rate n p / (tau_h n + tau_e p) is not linear once the carriers separate;
in slow films whose drift length mu (tau_e + tau_h) V_bi / d is well below d, light absorbed near
the front leaves the carrier that crosses the film in the majority, where it hardly recombines,
and a Poisson drift-diffusion solution collects up to 2x more (README, "Against drift-diffusion").
There (drift length below ``dd_batch.DRIFT_RATIO_MIN`` films) ``batch_response`` takes the
photocurrent from the batched Poisson drift-diffusion solver ``tandem.dd_batch`` instead.

Wafer ("wafer": diffusion-limited base, collecting junction at the back face)
-------------------------------------------------------------------------------
Minority-carrier collection probability in a field-free base with diffusion length
L = sqrt(D tau) and front-surface recombination velocity S [Hovel, Semiconductors and
Semimetals 11, Solar Cells (Academic Press, 1975), ch. 2; the form of Green,
Solar Cells (Prentice-Hall 1982) eq. 4.41]::

    f(y) = (cosh(y d/L) + (S L / D) sinh(y d/L)) / (cosh(d/L) + (S L / D) sinh(d/L)),

y = s the distance from the front surface over d. It does not depend on the voltage
(low injection).

Collected EQE in closed form
----------------------------
In a coherent layer the absorbed power density is a sum of exponentials
(``optics.profile`` / ``optics.absorption_terms``)::

    a(z) = c_f exp(-alpha z) + c_b exp(-alpha (d - z)) + Re(c_o exp(-2 i k_r z)),

and eta_c is a sum of exponentials too, so EQE(lambda) = integral a(z) eta_c(z) dz is a
sum of closed-form integrals (``collected_eqe``): nothing is sampled on a depth grid.
Every exponential is written bounded on [0, 1] so thick absorbers do not overflow.
"""
from __future__ import annotations

import numpy as np

from optics.spectra import K_B, Q_E

from . import dd_batch
from .vocabulary import ARCHITECTURES

__all__ = [
    "ARCHITECTURES", "thermal_voltage", "carrier_terms", "wafer_terms", "eta_terms",
    "collection_efficiency", "collected_eqe", "profile_terms", "uniform_collection", "recombination_scale",
    "VOLTAGE_NODES_KT", "batch_response", "PROFILE_POINTS",
]

#: (V_bi - V) / (kT/q) at which the voltage dependence of the photocurrent is tabulated;
#: dense near flat band where eta_c changes fastest, up to deep reverse bias.
VOLTAGE_NODES_KT = np.concatenate([[0.0], 2.0 ** np.arange(-2.0, 7.51, 0.5)])
_B2_MIN = 1e-7  # (d / L_diff)^2 floor: balances the recombination it ignores against round-off in a / b^2


def thermal_voltage(temperature_k) -> np.ndarray:
    """kT/q in V."""
    return K_B * np.asarray(temperature_k, dtype=float) / Q_E


# --------------------------------------------------------------------------------------
# eta_c as a sum of bounded exponentials: terms (coef, rate, offset), eta(s) = sum coef exp(offset + rate s)
# --------------------------------------------------------------------------------------
def carrier_terms(a, b2, h, wrong_at_front: bool):
    """Ramo displacement u(s) of one carrier as exponential terms (see module docstring).

    Parameters
    ----------
    a : array, (V_bi - V) / (kT/q) (any sign; >0 drives the carrier to its contact).
    b2 : array, (d / L_diff)^2 = d^2 / (D tau) > 0.
    h : array, S d / D >= 0 (recombination velocity at the carrier's wrong contact).
    wrong_at_front : True if the carrier's wrong contact is the front face (s = 0).

    Returns
    -------
    list of (coef, rate, offset) arrays broadcast together; u(s) = sum coef exp(offset + rate s),
    each exponential <= 1 on 0 <= s <= 1.
    """
    a, b2, h = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (a, b2, h)))
    b2 = np.maximum(b2, _B2_MIN)
    sq = np.sqrt(a * a + 4 * b2)
    pos = a >= 0
    big = (np.abs(a) + sq) / 2  # the large root, no cancellation
    small = b2 / big            # |l+ l-| = b^2
    lp = np.where(pos, small, big)     # > 0
    lm = np.where(pos, -big, -small)   # < 0
    up = a / b2
    ep, em = np.exp(-lp), np.exp(lm)
    # C2 from the two boundary conditions, numerator and denominator over (1 + h) to keep h -> inf finite
    w = 1.0 / (1.0 + h)
    hw = h * w
    num = hw * up - w + up * ep * (lp * w - hw)
    den = (lm * w - hw) - em * ep * (lp * w - hw)
    c2 = num / den
    c1 = -up - c2 * em
    zero = np.zeros_like(a)
    if wrong_at_front:  # y = s
        return [(up, zero, zero), (c1, lp, -lp), (c2, lm, zero)]
    # y = 1 - s
    return [(up, zero, zero), (c1, -lp, zero), (c2, -lm, lm)]


def wafer_terms(beta, g):
    """Hovel collection probability f(s) as exponential terms, junction at the back (s = 1).

    beta : d / L_diff (> 0); g : S L / D (>= 0), S at the front surface.
    """
    beta, g = np.broadcast_arrays(np.asarray(beta, dtype=float), np.asarray(g, dtype=float))
    beta = np.maximum(beta, 1e-9)
    w = 1.0 / (1.0 + g)
    den = 1.0 + (1.0 - g) * w * np.exp(-2 * beta)
    k1 = 1.0 / den
    k2 = (1.0 - g) * w / den
    return [(k1, beta, -beta), (k2, -beta, -beta)]


def eta_terms(architecture: str, thickness_nm, vbi_v, voltage_v, mobility_e, mobility_h,
              lifetime_e_s, lifetime_h_s, s_front_cm_s, s_back_cm_s, temperature_k=298.15):
    """Exponential terms of eta_c(s, V) for one architecture; arrays broadcast together.

    Parameters
    ----------
    architecture : "pin" (hole contact at the front), "nip" (electron contact at the front)
        or "wafer" (diffusion-limited base; minority carriers = holes, junction at the back).
    thickness_nm : absorber thickness d, nm (> 0).
    vbi_v : built-in voltage, V (thin films only).
    voltage_v : junction voltage, V (thin films only; eta_c of a wafer does not depend on it).
    mobility_e, mobility_h : cm^2/(V s).
    lifetime_e_s, lifetime_h_s : s.
    s_front_cm_s, s_back_cm_s : recombination velocity (cm/s) at the front / back face of
        the absorber, for the carrier that face should block (thin film) or for the
        minority carrier at the front surface (wafer).
    """
    vt = thermal_voltage(temperature_k)
    d_cm = np.asarray(thickness_nm, dtype=float) * 1e-7
    if architecture == "wafer":
        dh = np.asarray(mobility_h, dtype=float) * vt
        ld = np.sqrt(dh * np.asarray(lifetime_h_s, dtype=float))
        return wafer_terms(d_cm / ld, np.asarray(s_front_cm_s, dtype=float) * ld / dh)
    if architecture not in ("pin", "nip"):
        raise ValueError(f"unknown architecture {architecture!r}; use one of {ARCHITECTURES}")
    a = (np.asarray(vbi_v, dtype=float) - np.asarray(voltage_v, dtype=float)) / vt
    de = np.asarray(mobility_e, dtype=float) * vt
    dh = np.asarray(mobility_h, dtype=float) * vt
    # pair (SRH) recombination: one event removes an electron and a hole, at the high-injection
    # rate n / (tau_e + tau_h); as a per-carrier lifetime this is tau_e + tau_h for both
    tau = np.asarray(lifetime_e_s, dtype=float) + np.asarray(lifetime_h_s, dtype=float)
    b2e = d_cm**2 / (de * tau)
    b2h = d_cm**2 / (dh * tau)
    sf, sb = np.asarray(s_front_cm_s, dtype=float), np.asarray(s_back_cm_s, dtype=float)
    if architecture == "pin":  # electrons' wrong contact: front (hole contact); holes': back
        te = carrier_terms(a, b2e, sf * d_cm / de, wrong_at_front=True)
        th = carrier_terms(a, b2h, sb * d_cm / dh, wrong_at_front=False)
    else:
        te = carrier_terms(a, b2e, sb * d_cm / de, wrong_at_front=False)
        th = carrier_terms(a, b2h, sf * d_cm / dh, wrong_at_front=True)
    # merge the two constant terms
    const = (te[0][0] + th[0][0], te[0][1], te[0][2])
    return [const] + te[1:] + th[1:]


def _evaluate_terms(terms, s):
    out = 0.0
    for c, r, p in terms:
        out = out + c[..., None] * np.exp(p[..., None] + r[..., None] * s)
    return out


def collection_efficiency(s, architecture: str, thickness_nm, vbi_v=1.0, voltage_v=0.0, mobility_e=1.0,
                          mobility_h=1.0, lifetime_e_s=1e-6, lifetime_h_s=1e-6, s_front_cm_s=0.0,
                          s_back_cm_s=0.0, temperature_k=298.15) -> np.ndarray:
    """eta_c at relative depths ``s`` (= z / d, array [Z]); returns [..., Z] (parameters broadcast [...]).

    For plots and tests; the device model integrates the terms in closed form (``collected_eqe``).
    """
    terms = eta_terms(architecture, thickness_nm, vbi_v, voltage_v, mobility_e, mobility_h, lifetime_e_s,
                      lifetime_h_s, s_front_cm_s, s_back_cm_s, temperature_k)
    shape = np.broadcast_shapes(*(t[0].shape for t in terms))
    terms = [tuple(np.broadcast_to(x, shape) for x in t) for t in terms]
    return _evaluate_terms(terms, np.asarray(s, dtype=float))


# --------------------------------------------------------------------------------------
# integral of the absorption profile against eta_c
# --------------------------------------------------------------------------------------
def _exprel(x):
    """(exp(x) - 1) / x for real or complex x, = 1 at 0."""
    small = np.abs(x) < 1e-6
    xs = np.where(small, 1.0, x)
    return np.where(small, 1.0 + x / 2, np.expm1(xs) / xs)


def _bounded_integral(offset, rate):
    """integral_0^1 exp(offset + rate s) ds for an integrand bounded by 1 on [0, 1]."""
    back = rate.real > 0  # the maximum sits at s = 1: factor it out there
    return np.exp(np.where(back, offset + rate, offset)) * _exprel(np.where(back, -rate, rate))


def profile_terms(alpha_d, kr_d, c_f, c_b, c_o):
    """Exponential terms of an absorption profile a(s) d (per unit s), see the module docstring.

    alpha_d : alpha d (power absorption coefficient x thickness); kr_d : Re(kz) d;
    c_f, c_b : real, c_o : complex coefficients of a(z) in nm^-1 (already x d here by the caller).
    """
    zero = np.zeros_like(alpha_d)
    return [(c_f, -alpha_d, zero), (c_b, alpha_d, -alpha_d), (c_o, -2j * kr_d, zero)]


def _endpoints(terms):
    """(coef, rate, exp(offset), exp(offset + rate)) of each term: its values at s = 0 and s = 1.

    A rate or an exponential that is exactly 0 / 1 everywhere is None (a multiplication by 1
    is exact, so skipping it changes no digit and keeps the products at the smaller shape).
    """
    out = []
    for c, r, p in terms:
        flat = not np.any(r)
        unit0 = not np.any(p)
        out.append((c, None if flat else r, None if unit0 else np.exp(p),
                    None if unit0 and flat else np.exp(p + r)))
    return out


def _times(x, y):
    """x * y for endpoint values, None standing for exactly 1."""
    if x is None:
        return y
    return x if y is None else x * y


def collected_eqe(eta, profile) -> np.ndarray:
    """integral_0^1 a(s) eta(s) ds in closed form: the collected EQE.

    eta : terms from ``eta_terms`` (arrays broadcastable to the profile's, e.g. [B, 1] or [B, K, 1]).
    profile : terms from ``profile_terms`` with the absorption per unit s (a(z) d), e.g. [B, W].
    Without collection losses (eta = 1) this is the layer's absorptance.

    Each product of two terms integrates to (exp(p + r) - exp(p)) / r with r, p the summed
    rates and offsets; both exponentials are the products of the terms' values at the two
    faces, all <= 1, so nothing overflows and only the terms' own exponentials are computed.
    A term of eta with rate 0 and offset 0 (the constant) integrates to the profile's own
    integrals, computed at the profile's shape.
    """
    total = 0.0
    ge = _endpoints(profile)
    for ce, re, e0, e1 in _endpoints(eta):
        for cg, rg, g0, g1 in ge:
            r = rg if re is None else (re if rg is None else re + rg)
            a0 = _times(e0, g0)
            a1 = _times(e1, g1)
            if r is None:  # both flat: the integral of a constant
                integral = 1.0 if a0 is None else a0
            else:
                a0 = 1.0 if a0 is None else a0
                a1 = 1.0 if a1 is None else a1
                small = np.abs(r) < 1e-4
                if np.any(small):  # (exp(r) - 1) / r to second order
                    integral = np.where(small, a0 * (1 + r / 2 + r * r / 6), (a1 - a0) / np.where(small, 1.0, r))
                else:
                    integral = (a1 - a0) / r
            prod = ce * cg * integral
            total = total + (prod.real if np.iscomplexobj(prod) else prod)
    return total


def uniform_collection(eta) -> np.ndarray:
    """Depth average of eta_c (for absorbers without a resolved profile, e.g. Lambertian wafers)."""
    total = 0.0
    for c, r, p in eta:
        total = total + c * _bounded_integral(p, r + 0.0 * c).real
    return total


# --------------------------------------------------------------------------------------
# recombination that scales with the absorber volume
# --------------------------------------------------------------------------------------
def recombination_scale(thickness_nm, reference_nm, lifetime_e_s, lifetime_h_s, s_front_cm_s, s_back_cm_s):
    """Non-radiative dark current at thickness d relative to the reference thickness.

    In high injection (n = p, the open-circuit condition of an undoped absorber) the
    Shockley-Read-Hall rate is n / (tau_e + tau_h) [Shockley & Read, Phys. Rev. 87, 835
    (1952), doi:10.1103/PhysRev.87.835; Hall, Phys. Rev. 87, 387 (1952)], so per unit area
    the bulk recombines n d / (tau_e + tau_h) and the two interfaces n (S_f + S_b)::

        J0,nr(d) / J0,nr(d_ref) = (d / (tau_e + tau_h) + S_f + S_b) / (d_ref / (tau_e + tau_h) + S_f + S_b)

    d, d_ref in nm; lifetimes in s; S in cm/s. The preset's ERE fixes J0,nr at d_ref.
    """
    tsum = np.asarray(lifetime_e_s, dtype=float) + np.asarray(lifetime_h_s, dtype=float)
    s = np.asarray(s_front_cm_s, dtype=float) + np.asarray(s_back_cm_s, dtype=float)
    bulk = np.asarray(thickness_nm, dtype=float) * 1e-7 / tsum
    ref = np.asarray(reference_nm, dtype=float) * 1e-7 / tsum
    return (bulk + s) / (ref + s)


# --------------------------------------------------------------------------------------
# batch response of absorbers: collected EQE at short circuit and Jph(V) shape
# --------------------------------------------------------------------------------------
#: relative depths at which results report eta_c(z, 0)
PROFILE_POINTS = np.linspace(0.0, 1.0, 41)


def batch_response(transports, thickness_nm, temperature_k, absorptance, profile=None, coarse=None, weights=None,
                   bandgap_ev=None):
    """Collected EQE at V = 0 and its voltage dependence for a batch of absorbers.

    Parameters
    ----------
    transports : sequence of P ``tandem.transport.Transport`` (any architectures).
    thickness_nm, temperature_k : [P] absorber thickness (nm) and temperature (K).
    absorptance : [P, W] absorptance of the absorbers.
    profile : None, or (alpha_nm, kr_nm, c_f, c_b, c_o) arrays [P, W] of the absorbers'
        closed-form absorption profiles (``optics.solve_arrays(profile_layers=...)``); without
        it (light-trapped or incoherent absorbers) the generation is taken uniform in depth.
    coarse : index array of the wavelengths on which the voltage dependence is computed.
    weights : None, or [P, W] mA/cm^2 per unit EQE of each absorber's spectrum
        (``optics.spectra.jsc_weights``). With it and ``profile``, thin films whose drift length is
        below ``dd_batch.DRIFT_RATIO_MIN`` films, where the closed form is not trusted, take their
        photocurrent from the batched Poisson drift-diffusion solution (``tandem.dd_batch``) under
        the summed generation G(z) of that spectrum, at V = 0 and at every junction-voltage node:
        the collected EQE keeps the closed form's spectral shape, scaled to the drift-diffusion
        current at each voltage (the device is nonlinear in G, so this EQE holds for that spectrum).
    bandgap_ev : None or [P] absorber gaps (eV; NaN unknown), for the drift-diffusion contacts.

    Returns
    -------
    eqe_c : [P, W] collected fraction of the incident photons at V = 0 (<= absorptance).
    eqe_v : [P, K + 1, Wc] collected EQE at V = 0 and at the junction voltages
        V_bi - VOLTAGE_NODES_KT kT/q on the coarse wavelengths (thin films; NaN for wafers).
    eta_profile : [P, len(PROFILE_POINTS)] eta_c at short circuit.
    """
    p = len(transports)
    absorptance = np.asarray(absorptance, dtype=float)
    w = absorptance.shape[1]
    coarse = np.arange(w) if coarse is None else np.asarray(coarse)
    eqe_c = np.empty((p, w))
    eqe_v = np.full((p, VOLTAGE_NODES_KT.size + 1, coarse.size), np.nan)
    eta_profile = np.empty((p, PROFILE_POINTS.size))
    d = np.asarray(thickness_nm, dtype=float)
    temps = np.asarray(temperature_k, dtype=float)
    archs = np.array([t.architecture for t in transports])
    for arch in np.unique(archs):
        rows = np.flatnonzero(archs == arch)
        ts = [transports[r] for r in rows]
        par = {k: np.array([getattr(t, k) for t in ts], dtype=float)[:, None] for k in (
            "vbi_v", "mobility_e_cm2_vs", "mobility_h_cm2_vs", "lifetime_e_ns", "lifetime_h_ns",
            "s_front_cm_s", "s_back_cm_s")}
        dd_, tt = d[rows][:, None], temps[rows][:, None]

        def terms(volts):
            return eta_terms(arch, dd_, par["vbi_v"], volts, par["mobility_e_cm2_vs"], par["mobility_h_cm2_vs"],
                             par["lifetime_e_ns"] * 1e-9, par["lifetime_h_ns"] * 1e-9, par["s_front_cm_s"],
                             par["s_back_cm_s"], tt)

        eta0 = terms(0.0)
        eta_profile[rows] = _evaluate_terms([tuple(np.broadcast_to(x, (rows.size, 1))[:, 0] for x in t)
                                            for t in eta0], PROFILE_POINTS)
        thin = arch != "wafer"
        if thin:
            vt = thermal_voltage(tt)
            volts = np.concatenate([np.zeros_like(par["vbi_v"]), par["vbi_v"] - VOLTAGE_NODES_KT * vt], axis=1)
            eta_v = [tuple(x[:, :, None] for x in np.broadcast_arrays(*t)) for t in terms(volts)]
        if profile is not None:
            alpha, kr, cf, cb, co = (np.asarray(x)[rows] for x in profile)
            prof = profile_terms(alpha * dd_, kr * dd_, cf * dd_, cb * dd_, co * dd_)
            eqe_c[rows] = collected_eqe(eta0, prof)
            if thin:
                prof_c = [tuple(x[:, None, coarse] for x in t) for t in prof]
                eqe_v[rows] = collected_eqe(eta_v, prof_c)
                if weights is not None:
                    _drift_diffusion_rows(rows, ts, prof, volts, eqe_c, eqe_v, d, temps, weights, bandgap_ev)
        else:
            eqe_c[rows] = absorptance[rows] * uniform_collection(eta0)
            if thin:
                eqe_v[rows] = absorptance[rows][:, None, coarse] * uniform_collection(eta_v)
    return np.clip(eqe_c, 0.0, absorptance), eqe_v, eta_profile


def _drift_diffusion_rows(rows, ts, prof, volts, eqe_c, eqe_v, d, temps, weights, bandgap_ev):
    """Replace the closed form by the drift-diffusion photocurrent where the drift length is short
    (``tandem.dd_batch``; in place on eqe_c [P, W] and eqe_v [P, K + 1, C])."""
    slow = dd_batch.slow_rows(ts, d[rows])
    if not slow.any():
        return
    k = np.flatnonzero(slow)
    r = rows[k]
    s_nodes = dd_batch.mesh()
    w = np.asarray(weights, dtype=float)[r]
    gbox = dd_batch.profile_box_generation([tuple(x[k] for x in t) for t in prof], w, s_nodes)
    eg = np.full(r.size, np.nan) if bandgap_ev is None else np.asarray(bandgap_ev, dtype=float)[r]
    jph = dd_batch.correction([ts[q] for q in k], d[r], eg, temps[r], gbox, volts[k], s_nodes)
    j_fast = np.sum(eqe_c[r] * w, axis=1)
    ok = np.all(np.isfinite(jph), axis=1) & (jph[:, 0] > 0) & (j_fast > 0)
    if not ok.any():
        return
    r, jph, j_fast = r[ok], jph[ok], j_fast[ok]
    eqe_c[r] *= (jph[:, 0] / j_fast)[:, None]
    eqe_v[r, 0] *= (jph[:, 0] / j_fast)[:, None]
    eqe_v[r, 1:] = eqe_v[r, :1] * np.maximum(jph[:, 1:] / jph[:, :1], 0.0)[:, :, None]
