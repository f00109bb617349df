"""Intrinsic recombination of crystalline silicon: n_i(T) and the Auger rate.

Used by the "Si_intrinsic" electrical preset (``tandem.presets``): the intrinsic limit
of a Si wafer is radiative recombination (from reciprocity on the computed EQE, in
``tandem.electrical``) plus the Auger recombination below, uniform over the wafer
thickness W (ideal surfaces, flat quasi-Fermi levels), as in Richter et al., IEEE J.
Photovolt. 3, 1184 (2013).

Units: densities in cm^-3, rates in cm^-3 s^-1, thickness in cm, voltages in V,
currents in mA/cm^2, temperature in K.
"""
from __future__ import annotations

import numpy as np

from optics.spectra import Q_E

__all__ = ["si_intrinsic_ni", "richter_auger_rate", "auger_current"]

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

    References
    ----------
    Richter, Glunz, Werner, Schmidt & Cuevas, Phys. Rev. B 86, 165202 (2012), eq. (18)
    without its radiative term.
    """
    n0 = np.asarray(n0, dtype=float)
    p0 = np.asarray(p0, dtype=float)
    dn = np.maximum(np.asarray(delta_n, dtype=float), 0.0)
    np_minus = (n0 + dn) * (p0 + dn) - ni**2
    return np_minus * _auger_coefficient(n0, p0, dn)


def auger_current(vj, thickness_cm, ni, n0, p0, vt):
    """Auger recombination current of a wafer at junction voltage vj, and its derivative.

    With flat quasi-Fermi levels, n p = n_i^2 exp(Vj / Vt) fixes the excess density
    dn = (sqrt((n0 + p0)^2 + 4 n_i^2 (e^{Vj/Vt} - 1)) - (n0 + p0)) / 2, and
    J_Auger = q W U(dn) (``richter_auger_rate``).

    Parameters
    ----------
    vj : array_like
        Junction voltage, V.
    thickness_cm : array_like
        Wafer thickness W, cm (0 gives no Auger current).
    ni, n0, p0 : array_like
        Intrinsic and equilibrium densities, cm^-3.
    vt : array_like
        Thermal voltage kT/q, V. All broadcast together.

    Returns
    -------
    j : ndarray
        Auger current density, mA/cm^2.
    dj_dv : ndarray
        Its derivative with respect to vj, mA cm^-2 V^-1 (for Newton steps).
    """
    e = np.exp(np.minimum(vj / vt, 200.0))
    s = n0 + p0
    root = np.sqrt(s**2 + 4 * ni**2 * np.maximum(e - 1, -1 + 1e-300))
    dn = np.maximum((root - s) / 2, 0.0)
    coef = _auger_coefficient(n0, p0, dn)
    drive = ni**2 * (e - 1)
    u = drive * coef
    ddn = ni**2 * e / vt / np.maximum(root, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        dcoef = np.where(dn > 0, _C_DN * _X_DN * dn ** (_X_DN - 1) * ddn, 0.0)
    du = ni**2 * e / vt * coef + drive * dcoef
    scale = Q_E * thickness_cm * 1e3  # cm^-3 s^-1 over thickness W -> mA/cm^2
    return scale * u, scale * du
