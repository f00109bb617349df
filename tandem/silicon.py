"""Intrinsic physics of crystalline silicon: n_i(T), Auger recombination, band-gap narrowing
and free-carrier absorption.

Used by the "Si_intrinsic" electrical preset (``tandem.presets``): the intrinsic limit
of a Si wafer is radiative recombination (from reciprocity on the computed EQE, in
``tandem.electrical``) plus the Auger recombination below, uniform over the wafer
thickness W (ideal surfaces, flat quasi-Fermi levels), with the injection-dependent
band-gap narrowing of Schenk (1998) raising n_i,eff, and the free-carrier absorption of
the carriers at the maximum power point taking its share of the trapped light, as in
Richter et al., IEEE J. Photovolt. 3, 1184 (2013): ``tandem.limits.si_wafer_limit(110)``
gives 29.50 % against their 29.43 %.

Units: densities in cm^-3, rates in cm^-3 s^-1, thickness in cm, voltages in V,
currents in mA/cm^2, temperature in K.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optics.spectra import Q_E

__all__ = ["si_intrinsic_ni", "richter_auger_rate", "schenk_bgn", "injection", "intrinsic_recombination_current",
           "InjectionTable", "injection_table", "fca_alpha_cm"]

# Richter et al., Phys. Rev. B 86, 165202 (2012), eq. (18): the three Auger coefficients
# (cm^6 s^-1; the dn^0.92 term's unit absorbs the exponent), and the Coulomb-enhancement
# parameters (reference densities in cm^-3, amplitudes, exponents).
_C_EEH, _C_EHH, _C_DN, _X_DN = 2.5e-31, 8.5e-32, 3.0e-29, 0.92
_N_EEH, _A_EEH, _P_EEH = 3.3e17, 13.0, 0.66
_N_EHH, _A_EHH, _P_EHH = 7.0e17, 7.5, 0.63


def si_intrinsic_ni(temperature_k) -> np.ndarray:
    """Intrinsic carrier density of undoped Si (no band-gap narrowing), cm^-3.

    n_i = 5.29e19 (T/300)^2.54 exp(-6726/T): 9.7e9 at 300 K, 8.3e9 at 298.15 K.

    Parameters
    ----------
    temperature_k : array_like
        Temperature, K (> 0), any shape.

    Returns
    -------
    ndarray, shaped like ``temperature_k``
        n_i, cm^-3.

    References
    ----------
    Misiakos & Tsamakis, J. Appl. Phys. 74, 3293 (1993).
    """
    t = np.asarray(temperature_k, dtype=float)
    return 5.29e19 * (t / 300.0) ** 2.54 * np.exp(-6726.0 / t)


def _auger_coefficient(n0, p0, dn):
    g_eeh = 1 + _A_EEH * (1 - np.tanh((n0 / _N_EEH) ** _P_EEH))
    g_ehh = 1 + _A_EHH * (1 - np.tanh((p0 / _N_EHH) ** _P_EHH))
    return _C_EEH * g_eeh * n0 + _C_EHH * g_ehh * p0 + _C_DN * dn**_X_DN


def richter_auger_rate(n0, p0, delta_n, ni) -> np.ndarray:
    """Auger recombination rate of Si, with Coulomb enhancement, cm^-3 s^-1.

    U = (n p - n_i^2) (2.5e-31 g_eeh n0 + 8.5e-32 g_ehh p0 + 3.0e-29 dn^0.92),
    g_eeh = 1 + 13 (1 - tanh((n0/3.3e17)^0.66)), g_ehh = 1 + 7.5 (1 - tanh((p0/7.0e17)^0.63)).

    Parameters
    ----------
    n0, p0 : array_like
        Equilibrium electron and hole densities, cm^-3 (>= 0).
    delta_n : array_like
        Excess carrier density, cm^-3 (negative values are taken as 0).
    ni : array_like
        (Effective) intrinsic carrier density, cm^-3. All broadcast together.

    Returns
    -------
    ndarray
        Net Auger rate U, cm^-3 s^-1 (>= 0 under injection).

    References
    ----------
    Richter, Glunz, Werner, Schmidt & Cuevas, Phys. Rev. B 86, 165202 (2012), eq. (18)
    without its radiative term, doi:10.1103/PhysRevB.86.165202.
    """
    n0 = np.asarray(n0, dtype=float)
    p0 = np.asarray(p0, dtype=float)
    dn = np.maximum(np.asarray(delta_n, dtype=float), 0.0)
    np_minus = (n0 + dn) * (p0 + dn) - ni**2
    return np_minus * _auger_coefficient(n0, p0, dn)


# --------------------------------------------------------------------------------------------
# Band-gap narrowing (Schenk 1998)
# --------------------------------------------------------------------------------------------
# Schenk, J. Appl. Phys. 84, 3684 (1998): Table 1 (Si material parameters) and Tables 2-3
# (Pade coefficients), in the notation of McIntosh, Altermatt & Heiser (PVSC 2010).
_RY_EX = 0.01655  # excitonic Rydberg energy, eV
_A_EX = 3.719e-7  # excitonic Bohr radius, cm
_ALPHA = {"e": 0.5187, "h": 0.4813}  # reduced mass / carrier mass
_G = {"e": 12.0, "h": 4.0}  # degeneracy (valleys x spin)
_PADE = {  # b, c, d, p, h, j, k, q of Tables 2 and 3
    "e": (8.0, 1.3346, 0.893, 7 / 30, 3.91, 2.8585, 0.012, 3 / 4),
    "h": (1.0, 1.2365, 1.153, 7 / 30, 4.20, 2.9307, 0.19, 1 / 4),
}


def schenk_bgn(n, p, donors=0.0, acceptors=0.0, temperature_k=298.15) -> np.ndarray:
    """Band-gap narrowing of crystalline Si from free carriers and ionised dopants, eV.

    The sum of the exchange-correlation quasi-particle shifts of the free electron-hole
    plasma (Schenk eq. 33) and of the ionic (carrier-dopant) shifts (eq. 37) of both bands,
    from the finite-temperature full random-phase approximation, as Pade approximants.
    In an undoped wafer under injection only the plasma term is left: about 4 meV at
    n = p = 1e16 cm^-3 and 298 K. The effective intrinsic density is
    n_i,eff = n_i exp(dEg / (2 kT)).

    Parameters
    ----------
    n, p : array_like
        Total electron and hole densities, cm^-3 (> 0).
    donors, acceptors : array_like
        Ionised donor and acceptor densities, cm^-3 (>= 0).
    temperature_k : array_like
        Temperature, K (> 0). All broadcast together.

    Returns
    -------
    ndarray
        Band-gap narrowing dEg >= 0, eV.

    References
    ----------
    Schenk, J. Appl. Phys. 84, 3684 (1998), eqs. (29)-(39) and Tables 1-3; McIntosh,
    Altermatt & Heiser, Proc. 35th IEEE PVSC, 2188 (2010) (the notation used here).
    """
    from optics.spectra import K_B

    t = K_B * np.asarray(temperature_k, dtype=float) / Q_E / _RY_EX  # kT in excitonic Rydbergs
    a3 = _A_EX**3
    dens = {"e": np.asarray(n, dtype=float) * a3, "h": np.asarray(p, dtype=float) * a3}
    n_sum = dens["e"] + dens["h"]
    n_p = _ALPHA["e"] * dens["e"] + _ALPHA["h"] * dens["h"]
    nd, na = np.asarray(donors, dtype=float) * a3, np.asarray(acceptors, dtype=float) * a3
    ion_sum = nd + na
    ion_p = _ALPHA["e"] * nd + _ALPHA["h"] * na
    u = ion_sum**2 / t**3
    total = 0.0
    for c in ("e", "h"):
        b, cc, d, pp, h, j, k, q = _PADE[c]
        num = ((4 * np.pi) ** 3 * n_sum**2 * ((48 * dens[c] / (np.pi * _G[c])) ** (1 / 3)
                                              + cc * np.log1p(d * n_p**pp))
               + 8 * np.pi * _ALPHA[c] / _G[c] * dens[c] * t**2 + np.sqrt(8 * np.pi * n_sum) * t**2.5)
        den = (4 * np.pi) ** 3 * n_sum**2 + t**3 + b * np.sqrt(n_sum) * t**2 + 40 * n_sum**1.5 * t
        shift = -num / den
        with np.errstate(divide="ignore", invalid="ignore"):
            ionic = -ion_sum * (1 + u) / (np.sqrt(t * ion_sum / (2 * np.pi)) * (1 + h * np.log1p(np.sqrt(ion_sum) / t))
                                         + j * u * ion_p**0.75 * (1 + k * ion_p**q))
        shift = shift + np.where(ion_sum > 0, ionic, 0.0)
        total = total - _RY_EX * shift
    return total


def injection(vj, ni, n0, p0, vt, bgn: bool = True, r0=None, rtol: float = 1e-10, max_iterations: int = 30):
    """Excess carrier density of a wafer at quasi-Fermi-level splitting vj, with band-gap narrowing.

    Solves (n0 + dn)(p0 + dn) = n0 p0 r exp(vj / Vt), with r = exp((dEg(n, p) - dEg(n0, p0)) / Vt)
    the increase of n_i,eff^2 by the injection-dependent Schenk narrowing (``schenk_bgn``;
    the equilibrium narrowing is part of n0 p0 = n_i^2), by fixed-point iteration: dEg
    changes by a few meV per decade of injection, so the iteration contracts fast.

    Parameters
    ----------
    vj : array_like
        Quasi-Fermi-level splitting (junction voltage), V.
    ni, n0, p0 : array_like
        Intrinsic and equilibrium electron and hole densities, cm^-3 (n0 p0 = ni^2).
    vt : array_like
        Thermal voltage kT/q, V (the narrowing is taken at T = q vt / k).
    bgn : bool, default True
        Include band-gap narrowing (False: r = 1).
    r0 : array_like, optional
        Starting value of r (for example from a nearby voltage); default 1.
    rtol, max_iterations : float, int
        Stop when r changes by less than ``rtol`` (relative) between iterations.

    Returns
    -------
    dn : ndarray
        Excess carrier density, cm^-3 (>= 0).
    r : ndarray
        n_i,eff^2 / n_i^2 at that injection (>= 1).
    """
    from optics.spectra import K_B

    vj, ni, n0, p0, vt = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (vj, ni, n0, p0, vt)))
    s = n0 + p0
    ni2 = ni**2
    e = np.exp(np.minimum(vj / vt, 200.0))
    r = np.ones_like(vj) if r0 is None else np.broadcast_to(np.asarray(r0, dtype=float), vj.shape).copy()
    dn = np.maximum((np.sqrt(np.maximum(s**2 + 4 * ni2 * (r * e - 1), 0.0)) - s) / 2, 0.0)
    if not bgn:
        return dn, r
    temperature = vt * Q_E / K_B
    donors, acceptors = np.maximum(n0 - p0, 0.0), np.maximum(p0 - n0, 0.0)
    eg0 = schenk_bgn(n0, p0, donors, acceptors, temperature)
    for _ in range(max_iterations):
        r_new = np.exp((schenk_bgn(n0 + dn, p0 + dn, donors, acceptors, temperature) - eg0) / vt)
        dn = np.maximum((np.sqrt(np.maximum(s**2 + 4 * ni2 * (r_new * e - 1), 0.0)) - s) / 2, 0.0)
        done = np.all(np.abs(r_new - r) <= rtol * r_new)
        r = r_new
        if done:
            break
    return dn, r


@dataclass(frozen=True)
class InjectionTable:
    """ln(n_i,eff^2 / n_i^2) of a batch of B wafers on a uniform voltage grid.

    Band-gap narrowing makes the injection at a given junction voltage the root of an
    implicit equation (``injection``); the diode solvers need it at many voltages, so it is
    tabulated once per batch (``injection_table``) and interpolated linearly (0.5 mV steps
    keep the voltage error below 1e-7 V).

    Attributes
    ----------
    v0 : float
        First junction voltage of the table, V.
    dv : float
        Voltage step, V.
    ln_r : ndarray, shape [B, K]
        ln(n_i,eff^2 / n_i^2) of each wafer at v0 + k dv.
    """

    v0: float
    dv: float
    ln_r: np.ndarray

    def ratio(self, vj) -> np.ndarray:
        """r = n_i,eff^2 / n_i^2 at junction voltages vj [B] or [B, N] (clamped to the table)."""
        vj = np.asarray(vj, dtype=float)
        k = self.ln_r.shape[1]
        x = np.clip((vj - self.v0) / self.dv, 0.0, k - 1 - 1e-9)
        i = x.astype(int)
        f = x - i
        rows = np.arange(self.ln_r.shape[0]).reshape((-1,) + (1,) * (vj.ndim - 1))
        return np.exp(self.ln_r[rows, i] * (1 - f) + self.ln_r[rows, i + 1] * f)


def injection_table(ni, n0, p0, vt, v_max: float = 1.0, dv: float = 5e-4) -> InjectionTable:
    """Tabulate the band-gap narrowing of B wafers from 0 to ``v_max`` V (see ``injection``).

    Parameters
    ----------
    ni, n0, p0 : array_like, shape [B]
        Intrinsic and equilibrium densities, cm^-3.
    vt : array_like, shape [B]
        Thermal voltage kT/q, V.
    v_max, dv : float
        Largest junction voltage and step, V (defaults 1.0 V and 0.5 mV).

    Returns
    -------
    InjectionTable
    """
    grid = np.arange(0.0, v_max + dv / 2, dv)
    cols = lambda a: np.asarray(a, dtype=float).reshape(-1, 1)  # noqa: E731
    _, r = injection(grid[None, :], cols(ni), cols(n0), cols(p0), cols(vt))
    return InjectionTable(0.0, dv, np.log(r))


def intrinsic_recombination_current(vj, thickness_cm, ni, n0, p0, vt, j0_rad, bgn=None):
    """Auger current of a wafer, plus the extra radiative current from band-gap narrowing.

    With flat quasi-Fermi levels the injection dn follows from vj (``injection``), and

        J = q W U_Auger(dn) + J0,rad (r - 1) exp(vj / Vt),

    U_Auger of ``richter_auger_rate`` (driven by n p - n0 p0), r = n_i,eff^2 / n_i^2, and the
    second term the increase of the radiative recombination B n p by the narrowing (the
    diode's own J0,rad (exp(vj / Vt) - 1) holds the rest).

    Parameters
    ----------
    vj : array_like
        Junction voltage, V.
    thickness_cm : array_like
        Wafer thickness W, cm (0 gives no current).
    ni, n0, p0 : array_like
        Intrinsic and equilibrium densities, cm^-3.
    vt : array_like
        Thermal voltage kT/q, V.
    j0_rad : array_like
        Radiative saturation current of the diode, mA/cm^2. All broadcast together.
    bgn : InjectionTable, optional
        Band-gap narrowing of these wafers (``injection_table``, rows matching vj's first
        axis); None: no narrowing (r = 1).

    Returns
    -------
    j : ndarray
        Current density, mA/cm^2.
    dj_dv : ndarray
        Its derivative with respect to vj, mA cm^-2 V^-1 (numerical, for Newton steps).
    """
    def current(v):
        r = np.ones_like(v) if bgn is None else bgn.ratio(v)
        e = np.exp(np.minimum(v / vt, 200.0))
        s = n0 + p0
        dn = np.maximum((np.sqrt(np.maximum(s**2 + 4 * ni**2 * (r * e - 1), 0.0)) - s) / 2, 0.0)
        u = (dn * s + dn**2) * _auger_coefficient(n0, p0, dn)
        return Q_E * thickness_cm * 1e3 * u + j0_rad * (r - 1) * e  # cm^-3 s^-1 x W -> mA/cm^2

    vj = np.asarray(vj, dtype=float)
    h = 1e-7
    j = current(vj)
    return j, (current(vj + h) - j) / h


# --------------------------------------------------------------------------------------------
# Free-carrier absorption
# --------------------------------------------------------------------------------------------
def fca_alpha_cm(wavelengths_nm, n, p) -> np.ndarray:
    """Free-carrier absorption coefficient of crystalline Si, cm^-1.

    alpha_FCA = 2.6e-27 n lambda^3 + 2.7e-24 p lambda^2, lambda in nm, n and p in cm^-3
    (about 0.07 cm^-1 at 1100 nm for n = p = 1e16 cm^-3). The absorbed photon heats the
    carriers and generates no electron-hole pair.

    Parameters
    ----------
    wavelengths_nm : array_like, shape [W]
        Wavelengths, nm.
    n, p : array_like, shape [...]
        Free electron and hole densities, cm^-3 (>= 0).

    Returns
    -------
    ndarray, shape [..., W]
        alpha_FCA, cm^-1.

    References
    ----------
    M. A. Green, Silicon Solar Cells: Advanced Principles and Practice (UNSW, 1995), after
    Schroder, Thomas & Swartz, IEEE Trans. Electron Devices 25, 254 (1978); used for the
    Lambertian limit by Richter et al., IEEE J. Photovolt. 3, 1184 (2013).
    """
    lam = np.asarray(wavelengths_nm, dtype=float)
    n = np.asarray(n, dtype=float)[..., None]
    p = np.asarray(p, dtype=float)[..., None]
    return 2.6e-27 * n * lam**3 + 2.7e-24 * p * lam**2
