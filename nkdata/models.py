"""Physical dispersion models for complex permittivity and refractive index.

Conventions: photon energy ``E`` in eV, wavelength in nm, complex permittivity
``eps = eps1 + i eps2`` with ``eps2 >= 0`` and complex index ``n + ik`` with
``k >= 0`` (time dependence exp(-i omega t)).

All oscillator terms below are Kramers-Kronig (KK) consistent by construction:
their real parts are the analytic Hilbert transforms of their imaginary parts,
so a model ``eps_inf + sum(terms)`` obeys
``eps1(E) - eps_inf = (2/pi) P int_0^inf E' eps2(E') / (E'^2 - E^2) dE'``.
:func:`kk_eps1` evaluates that integral numerically for checks.

References
----------
- Tauc-Lorentz: G. E. Jellison Jr., F. A. Modine, Appl. Phys. Lett. 69, 371 (1996),
  doi:10.1063/1.118064 (and erratum 69, 2137).
- Gaussian oscillator: eps1 from the Hilbert transform of a Gaussian, (2/sqrt(pi)) D(x) with D the
  Dawson function (the form used in ellipsometry software, e.g. De Sousa Meneses et al.,
  J. Non-Cryst. Solids 2006).
- Lorentz / Drude: e.g. H. Fujiwara, Spectroscopic Ellipsometry (Wiley 2007), ch. 5.
- Urbach tail: F. Urbach, Phys. Rev. 92, 1324 (1953), doi:10.1103/PhysRev.92.1324.
- Bruggeman effective medium: D. A. G. Bruggeman, Ann. Phys. 416, 636 (1935),
  doi:10.1002/andp.19354160705.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: h*c in eV nm from the SI-defining (CODATA 2018, exact) values of h, c and e, the numbers that
#: ``scipy.constants`` holds (tests/test_startup.py checks they are equal): written out because
#: importing scipy.constants pulls in scipy's array-API layer (~0.2 s of CLI start-up). The same
#: expression as ``optics.spectra.HC_EV_NM``: nkdata and optics import none of each other.
HC_EV_NM = 6.62607015e-34 * 299792458.0 / 1.602176634e-19 * 1e9

__all__ = [
    "HC_EV_NM", "ev_to_nm", "nm_to_ev", "eps_to_nk", "nk_to_eps",
    "tauc_lorentz_eps2", "tauc_lorentz_eps", "gaussian_eps", "lorentz_eps", "drude_eps",
    "cauchy_n", "sellmeier_n", "urbach_k", "cauchy_urbach_nk", "bruggeman_eps",
    "kk_eps1", "kk_matrix", "absorption_coefficient_cm", "OscillatorModel", "drude_plasma_energy_ev",
]


def ev_to_nm(energy_ev):
    """Vacuum wavelength of a photon energy, lambda = hc / E.

    Parameters
    ----------
    energy_ev : array_like, any shape
        Photon energy, eV (> 0).

    Returns
    -------
    ndarray, shaped like ``energy_ev``
        Wavelength, nm.
    """
    return HC_EV_NM / np.asarray(energy_ev, dtype=float)


def nm_to_ev(wavelengths_nm):
    """Photon energy of a vacuum wavelength, E = hc / lambda.

    Parameters
    ----------
    wavelengths_nm : array_like, any shape
        Vacuum wavelength, nm (> 0).

    Returns
    -------
    ndarray, shaped like ``wavelengths_nm``
        Photon energy, eV.
    """
    return HC_EV_NM / np.asarray(wavelengths_nm, dtype=float)


def eps_to_nk(eps):
    """Complex index n + ik = sqrt(eps) on the branch with k >= 0.

    Parameters
    ----------
    eps : complex array_like, any shape
        Relative permittivity eps1 + i eps2 (dimensionless).

    Returns
    -------
    complex ndarray, shaped like ``eps``
        n + ik with k >= 0; n >= 0 as well wherever eps2 >= 0 (a gain medium, eps2 < 0,
        comes out with n < 0).
    """
    nk = np.sqrt(np.asarray(eps, dtype=complex))
    # principal sqrt has Re >= 0; with Im(eps) >= 0 this also gives Im >= 0
    return np.where(nk.imag < 0, -nk, nk)


def nk_to_eps(nk):
    """Relative permittivity eps = (n + ik)^2.

    Parameters
    ----------
    nk : complex array_like, any shape
        Complex index n + ik.

    Returns
    -------
    complex ndarray, shaped like ``nk``
    """
    nk = np.asarray(nk, dtype=complex)
    return nk * nk


def absorption_coefficient_cm(nk, wavelengths_nm):
    """Absorption coefficient alpha = 4 pi k / lambda.

    Parameters
    ----------
    nk : complex array_like
        Complex index n + ik (only k is used).
    wavelengths_nm : array_like, broadcastable to ``nk``
        Vacuum wavelength, nm (> 0).

    Returns
    -------
    ndarray
        alpha, cm^-1.
    """
    return 4.0 * np.pi * np.imag(nk) / (np.asarray(wavelengths_nm, float) * 1e-7)


# ---------------------------------------------------------------- oscillators
def tauc_lorentz_eps2(E, A, E0, C, Eg):
    """Imaginary permittivity of one Tauc-Lorentz oscillator.

    eps2 = A E0 C (E - Eg)^2 / ((E^2 - E0^2)^2 + C^2 E^2) / E  for E > Eg, else 0.

    Parameters
    ----------
    E : array_like, any shape
        Photon energy, eV (> 0).
    A : float
        Amplitude, eV (>= 0).
    E0 : float
        Peak (Lorentz resonance) energy, eV (> 0).
    C : float
        Broadening, eV (> 0).
    Eg : float
        Tauc gap, eV (>= 0).

    Returns
    -------
    ndarray, shaped like ``E``
        eps2 >= 0 (dimensionless).

    References
    ----------
    G. E. Jellison Jr. & F. A. Modine, Appl. Phys. Lett. 69, 371 (1996), doi:10.1063/1.118064.
    """
    E = np.asarray(E, dtype=float)
    Ep = np.where(E > Eg, E, Eg + 1.0)  # avoid 0/0 below the gap
    val = A * E0 * C * (Ep - Eg) ** 2 / ((Ep**2 - E0**2) ** 2 + C**2 * Ep**2) / Ep
    return np.where(E > Eg, val, 0.0)


def tauc_lorentz_eps(E, A, E0, C, Eg):
    """Complex permittivity contribution (without eps_inf) of one Tauc-Lorentz oscillator.

    eps1 is the closed-form KK transform of eps2 (``tauc_lorentz_eps2``).

    Parameters
    ----------
    E : array_like, any shape
        Photon energy, eV (> 0).
    A, E0, C, Eg : float
        Amplitude, peak energy, broadening and Tauc gap, eV, as in ``tauc_lorentz_eps2``;
        the closed form needs C < 2 E0, Eg >= 0 and A >= 0 (ValueError otherwise).

    Returns
    -------
    complex ndarray, shaped like ``E``
        eps1 + i eps2 of the oscillator (dimensionless).

    References
    ----------
    G. E. Jellison Jr. & F. A. Modine, Appl. Phys. Lett. 69, 371 (1996), eq. (4),
    doi:10.1063/1.118064, and its erratum, Appl. Phys. Lett. 69, 2137 (1996).
    """
    E = np.asarray(E, dtype=float)
    if not (C < 2 * E0 and Eg >= 0 and A >= 0):
        raise ValueError(f"Tauc-Lorentz needs C < 2*E0, Eg >= 0, A >= 0 (got A={A}, E0={E0}, C={C}, Eg={Eg})")
    pi = np.pi
    alpha = np.sqrt(4 * E0**2 - C**2)
    gamma2 = E0**2 - C**2 / 2
    zeta4 = (E**2 - gamma2) ** 2 + alpha**2 * C**2 / 4
    a_ln = (Eg**2 - E0**2) * E**2 + Eg**2 * C**2 - E0**2 * (E0**2 + 3 * Eg**2)
    a_atan = (E**2 - E0**2) * (E0**2 + Eg**2) + Eg**2 * C**2
    dE = np.abs(E - Eg)
    dE = np.where(dE < 1e-12, 1e-12, dE)  # log singularity of measure zero at E = Eg
    Es = np.where(E < 1e-12, 1e-12, E)
    t1 = A * C * a_ln / (2 * pi * zeta4 * alpha * E0) * np.log(
        (E0**2 + Eg**2 + alpha * Eg) / (E0**2 + Eg**2 - alpha * Eg))
    t2 = -A * a_atan / (pi * zeta4 * E0) * (
        pi - np.arctan((2 * Eg + alpha) / C) + np.arctan((alpha - 2 * Eg) / C))
    t3 = 2 * A * E0 * Eg * (E**2 - gamma2) / (pi * zeta4 * alpha) * (
        pi + 2 * np.arctan(2 * (gamma2 - Eg**2) / (alpha * C)))
    t4 = -A * E0 * C * (E**2 + Eg**2) / (pi * zeta4 * Es) * np.log(dE / (E + Eg))
    t5 = 2 * A * E0 * C * Eg / (pi * zeta4) * np.log(
        dE * (E + Eg) / np.sqrt((E0**2 - Eg**2) ** 2 + Eg**2 * C**2))
    eps1 = t1 + t2 + t3 + t4 + t5
    return eps1 + 1j * tauc_lorentz_eps2(E, A, E0, C, Eg)


def gaussian_eps(E, A, En, Br):
    """Gaussian oscillator, KK consistent.

    eps2 = A [exp(-((E - En)/s)^2) - exp(-((E + En)/s)^2)], s = Br / (2 sqrt(ln 2)), and
    eps1 = (2A/sqrt(pi)) [D((E + En)/s) - D((E - En)/s)] with D the Dawson function, the
    exact Hilbert transform of that eps2 (the anti-symmetric term keeps eps2(-E) = -eps2(E)).

    Parameters
    ----------
    E : array_like, any shape
        Photon energy, eV.
    A : float
        Amplitude (dimensionless, >= 0).
    En : float
        Centre energy, eV (> 0).
    Br : float
        Full width at half maximum, eV (> 0).

    Returns
    -------
    complex ndarray, shaped like ``E``

    References
    ----------
    D. De Sousa Meneses et al., J. Non-Cryst. Solids (2006) (the form used in
    ellipsometry software).
    """
    from scipy.special import dawsn  # here, not at import: scipy.special costs CLI start-up

    E = np.asarray(E, dtype=float)
    s = Br / (2.0 * np.sqrt(np.log(2.0)))
    eps2 = A * (np.exp(-(((E - En) / s) ** 2)) - np.exp(-(((E + En) / s) ** 2)))
    eps1 = 2 * A / np.sqrt(np.pi) * (dawsn((E + En) / s) - dawsn((E - En) / s))
    return eps1 + 1j * eps2


def lorentz_eps(E, f, E0, gamma):
    """Lorentz oscillator f E0^2 / (E0^2 - E^2 - i gamma E).

    Parameters
    ----------
    E : array_like, any shape
        Photon energy, eV.
    f : float
        Strength (dimensionless; the oscillator's contribution to eps1 at E = 0).
    E0 : float
        Resonance energy, eV (> 0).
    gamma : float
        Damping (full width), eV (>= 0).

    Returns
    -------
    complex ndarray, shaped like ``E``

    References
    ----------
    H. Fujiwara, Spectroscopic Ellipsometry: Principles and Applications (Wiley, 2007), ch. 5.
    """
    E = np.asarray(E, dtype=float)
    return f * E0**2 / (E0**2 - E**2 - 1j * gamma * E)


def drude_eps(E, Ep, gamma):
    """Free-carrier (Drude) term -Ep^2 / (E^2 + i gamma E).

    Parameters
    ----------
    E : array_like, any shape
        Photon energy, eV (> 0).
    Ep : float
        Plasma energy hbar omega_p, eV (see ``drude_plasma_energy_ev``).
    gamma : float
        Damping hbar / tau, eV (> 0).

    Returns
    -------
    complex ndarray, shaped like ``E``

    References
    ----------
    H. Fujiwara, Spectroscopic Ellipsometry: Principles and Applications (Wiley, 2007), ch. 5.
    """
    E = np.asarray(E, dtype=float)
    return -(Ep**2) / (E**2 + 1j * gamma * E)


def drude_plasma_energy_ev(carrier_density_cm3, effective_mass_ratio, eps_inf=1.0):
    """Unscreened plasma energy Ep = hbar sqrt(N e^2 / (eps0 m*)).

    Parameters
    ----------
    carrier_density_cm3 : array_like
        Free-carrier density N, cm^-3 (>= 0).
    effective_mass_ratio : array_like
        Effective mass m*/m0 (> 0).
    eps_inf : float, optional
        Not used: the result is always the unscreened value (the screened plasma
        energy is Ep / sqrt(eps_inf)).

    Returns
    -------
    ndarray
        Ep, eV, the ``Ep`` of ``drude_eps``.
    """
    e, eps0, m0, hbar = 1.602176634e-19, 8.8541878128e-12, 9.1093837015e-31, 1.054571817e-34
    wp = np.sqrt(carrier_density_cm3 * 1e6 * e**2 / (eps0 * effective_mass_ratio * m0))
    return hbar * wp / e


# --------------------------------------------------- Cauchy/Sellmeier + Urbach
def cauchy_n(wavelengths_nm, A, B=0.0, C=0.0):
    """Cauchy index n = A + B/lambda^2 + C/lambda^4, lambda in um.

    For transparent dielectrics far from their absorption bands.

    Parameters
    ----------
    wavelengths_nm : array_like, any shape
        Vacuum wavelength, nm (converted to um inside).
    A : float
        Dimensionless.
    B : float, default 0
        um^2.
    C : float, default 0
        um^4.

    Returns
    -------
    ndarray, shaped like ``wavelengths_nm``
    """
    lam = np.asarray(wavelengths_nm, float) * 1e-3
    return A + B / lam**2 + C / lam**4


def sellmeier_n(wavelengths_nm, B, Cum):
    """Sellmeier index n^2 = 1 + sum_i B_i lambda^2 / (lambda^2 - C_i^2), lambda in um.

    Parameters
    ----------
    wavelengths_nm : array_like, any shape
        Vacuum wavelength, nm, away from the poles C_i.
    B : sequence of float
        Dimensionless strengths B_i.
    Cum : sequence of float, same length as ``B``
        Resonance wavelengths C_i, um.

    Returns
    -------
    ndarray, shaped like ``wavelengths_nm``
    """
    lam2 = (np.asarray(wavelengths_nm, float) * 1e-3) ** 2
    n2 = 1.0 + sum(b * lam2 / (lam2 - c**2) for b, c in zip(B, Cum))
    return np.sqrt(n2)


def urbach_k(wavelengths_nm, k0, Eg, Eu):
    """Urbach absorption tail k = k0 exp((E - Eg)/Eu) for E < Eg, k0 above.

    Sub-gap tail only: a transparent-layer approximation, not KK consistent on its own
    (its contribution to n is below 1e-3 for k0 <= 0.01, which is why it is used only
    for weakly absorbing layers).

    Parameters
    ----------
    wavelengths_nm : array_like, any shape
        Vacuum wavelength, nm.
    k0 : float
        Extinction coefficient at and above the gap (>= 0).
    Eg : float
        Gap, eV.
    Eu : float
        Urbach energy, eV (> 0).

    Returns
    -------
    ndarray, shaped like ``wavelengths_nm``

    References
    ----------
    F. Urbach, Phys. Rev. 92, 1324 (1953), doi:10.1103/PhysRev.92.1324.
    """
    E = nm_to_ev(wavelengths_nm)
    return k0 * np.exp(np.minimum(E - Eg, 0.0) / Eu)


def cauchy_urbach_nk(wavelengths_nm, A, B, C, k0, Eg, Eu):
    """Cauchy n with an Urbach k tail (transparent dielectrics with a weak absorption edge).

    Parameters
    ----------
    wavelengths_nm : array_like, any shape
        Vacuum wavelength, nm.
    A, B, C : float
        Cauchy coefficients (dimensionless, um^2, um^4), see ``cauchy_n``.
    k0, Eg, Eu : float
        Urbach tail (k0 dimensionless, Eg and Eu in eV), see ``urbach_k``.

    Returns
    -------
    complex ndarray, shaped like ``wavelengths_nm``
        n + ik.
    """
    return cauchy_n(wavelengths_nm, A, B, C) + 1j * urbach_k(wavelengths_nm, k0, Eg, Eu)


# ------------------------------------------------------- effective medium
def bruggeman_eps(eps_a, eps_b, fraction_a):
    """Bruggeman effective permittivity of spheres of a (volume fraction f) mixed with b.

    Solves f (ea - e)/(ea + 2e) + (1-f)(eb - e)/(eb + 2e) = 0, i.e.
    2 e^2 - b e - ea eb = 0 with b = (3f - 1) ea + (2 - 3f) eb, and picks the root
    with the larger Im(e) (the physical one, Im(e) >= 0 for absorbing inputs; on a tie,
    as for lossless inputs, the larger Re(e)).

    Parameters
    ----------
    eps_a, eps_b : complex array_like
        Permittivities of the two components (dimensionless).
    fraction_a : array_like
        Volume fraction of component a, [0, 1] (ValueError otherwise). All broadcast.

    Returns
    -------
    complex ndarray

    References
    ----------
    D. A. G. Bruggeman, Ann. Phys. 416, 636 (1935), doi:10.1002/andp.19354160705.
    """
    f = np.asarray(fraction_a, dtype=float)
    if np.any((f < 0) | (f > 1)):
        raise ValueError(f"Bruggeman volume fraction must be in [0, 1], got {fraction_a}")
    ea = np.asarray(eps_a, dtype=complex)
    eb = np.asarray(eps_b, dtype=complex)
    b = (3 * f - 1) * ea + (2 - 3 * f) * eb
    root = np.sqrt(b * b + 8 * ea * eb)
    e1 = (b + root) / 4
    e2 = (b - root) / 4
    # same test as np.isclose(e1.imag, e2.imag, atol=1e-14) (default rtol 1e-5), without its overhead
    tie = np.abs(e1.imag - e2.imag) <= 1e-14 + 1e-5 * np.abs(e2.imag)
    pick1 = (e1.imag > e2.imag) | (tie & (e1.real >= e2.real))
    return np.where(pick1, e1, e2)


# ------------------------------------------------------------------ KK check
def kk_matrix(E_out, E_grid):
    """Matrix K with K @ eps2_grid = (2/pi) P int E' eps2(E')/(E'^2 - E^2) dE' at E_out.

    eps2 is taken piecewise linear on ``E_grid`` and zero outside; each segment is
    integrated analytically, so the principal value is exact for that interpolant
    (singular logs at a grid node cancel between neighbouring segments).

    Parameters
    ----------
    E_out : array_like, shape [M]
        Energies at which eps1 - eps_inf is wanted, eV.
    E_grid : array_like, shape [N], N >= 2
        Strictly ascending energies of the eps2 samples, eV.

    Returns
    -------
    ndarray, shape [M, N]
    """
    E_all = np.asarray(E_out, float)
    x = np.asarray(E_grid, float)
    x0, x1 = x[None, :-1], x[None, 1:]
    h = x1 - x0
    K = np.zeros((E_all.size, x.size))
    for start in range(0, E_all.size, 128):  # row blocks keep the temporaries small
        E = E_all[start:start + 128, None]
        Kb = K[start:start + 128]
        for c in (-E, E):  # poles of 1/(E' - E) and 1/(E' + E)
            a0 = np.maximum(np.abs(x0 + c), 1e-300)
            a1 = np.maximum(np.abs(x1 + c), 1e-300)
            L = np.log(a1 / a0)
            r = (x0 + c) / h
            Kb[:, :-1] += -1.0 + (1.0 + r) * L   # weight of the left node of each segment
            Kb[:, 1:] += 1.0 - r * L             # weight of the right node
    return K / np.pi


def kk_eps1(E_out, E_grid, eps2_grid):
    """Numerical KK transform: (2/pi) P int E' eps2(E') / (E'^2 - E^2) dE' (without eps_inf).

    eps2 is taken as piecewise linear on ``E_grid`` and zero outside. The principal value
    is handled by integrating each linear segment analytically (exact for piecewise-linear
    eps2), so the error is the interpolation error of eps2 only. A loop over ``E_out``:
    for checks; ``kk_matrix`` is the fast form.

    Parameters
    ----------
    E_out : array_like, any shape
        Energies, eV.
    E_grid : array_like, shape [N], N >= 2
        Strictly ascending, dense energies of the samples, eV.
    eps2_grid : array_like, shape [N]
        eps2 at ``E_grid``.

    Returns
    -------
    ndarray, shaped like ``E_out`` (at least 1-D)
        eps1 - eps_inf.
    """
    E_out = np.atleast_1d(np.asarray(E_out, float))
    x = np.asarray(E_grid, float)
    y = np.asarray(eps2_grid, float)
    x0, x1 = x[:-1], x[1:]
    y0, y1 = y[:-1], y[1:]
    slope = (y1 - y0) / (x1 - x0)
    res = np.empty_like(E_out)
    for i, e in enumerate(E_out):
        # E' y/(E'^2-e^2) = (y/2)[1/(E'-e) + 1/(E'+e)], with y = y0 + s (E' - x0) linear
        tot = 0.0
        for sign in (1.0, -1.0):
            c = -sign * e  # pole at E' = -c  -> 1/(E' + c)
            # int (y0 + s(E'-x0)) / (E' + c) dE' = s (x1-x0) + (y0 - s(x0 + c)) ln|x1 + c| / |x0 + c|
            a0 = np.abs(x0 + c)
            a1 = np.abs(x1 + c)
            a0 = np.where(a0 < 1e-15, 1e-15, a0)
            a1 = np.where(a1 < 1e-15, 1e-15, a1)
            tot += np.sum(slope * (x1 - x0) + (y0 - slope * (x0 + c)) * np.log(a1 / a0))
        res[i] = tot / np.pi
    return res.reshape(np.shape(E_out))


# --------------------------------------------------------- composite model
@dataclass(frozen=True)
class OscillatorModel:
    """eps(E) = eps_inf + sum TL + sum Gaussian + sum Lorentz + Drude (all KK consistent).

    Parameters
    ----------
    eps_inf : float
        High-frequency permittivity (>= 1 in the fits).
    tauc_lorentz : tuple of (A, E0, C, Eg)
        Tauc-Lorentz oscillators, all eV (``tauc_lorentz_eps``).
    gaussians : tuple of (A, En, Br)
        Gaussian oscillators: A dimensionless, En and Br (FWHM) in eV (``gaussian_eps``).
    lorentz : tuple of (f, E0, gamma)
        Lorentz oscillators: f dimensionless, E0 and gamma in eV (``lorentz_eps``).
    drude : (Ep, gamma) or None
        Free-carrier term, eV (``drude_eps``).
    """

    eps_inf: float
    tauc_lorentz: tuple = ()
    gaussians: tuple = ()
    lorentz: tuple = ()
    drude: tuple | None = None

    def eps(self, E):
        """Complex permittivity at photon energies ``E`` (eV, any shape), shaped like ``E``."""
        E = np.asarray(E, dtype=float)
        out = np.full(E.shape, complex(self.eps_inf))
        for p in self.tauc_lorentz:
            out = out + tauc_lorentz_eps(E, *p)
        for p in self.gaussians:
            out = out + gaussian_eps(E, *p)
        for p in self.lorentz:
            out = out + lorentz_eps(E, *p)
        if self.drude is not None:
            out = out + drude_eps(E, *self.drude)
        return out

    def eps2(self, E):
        """Imaginary permittivity at photon energies ``E`` (eV), shaped like ``E``."""
        return self.eps(E).imag

    def nk(self, wavelengths_nm):
        """Complex index n + ik (k >= 0) at vacuum wavelengths in nm (any shape, same shape out)."""
        return eps_to_nk(self.eps(nm_to_ev(wavelengths_nm)))

    def as_params(self) -> dict:
        """The model's parameters by name, as the constructor takes them."""
        return {"eps_inf": self.eps_inf, "tauc_lorentz": self.tauc_lorentz,
                "gaussians": self.gaussians, "lorentz": self.lorentz, "drude": self.drude}
