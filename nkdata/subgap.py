"""Continuation of tabulated n,k of an absorber into its transparent (sub-gap) infrared region.

Used for measured films whose table stops inside the transparent region (the Aftenieva CsPbI3
nanocrystal film ends at 1200 nm, 0.6 eV below its gap), so that tandem stacks with a
low-gap bottom cell (PbS QDs down to 0.8 eV, i.e. 1550 nm) can be computed.

Model beyond the last tabulated wavelength lambda_j (all wavelengths in nm, converted to um
inside the Cauchy term):

- n: Cauchy dispersion n(lambda) = A + B/lambda^2 + C/lambda^4, least-squares fitted to the
  table over [fit_from_nm, lambda_j] (where k is negligible, so normal dispersion applies)
  with A fixed by n(lambda_j) = n_table(lambda_j): continuous at the join by construction.
  Far below the gap this is the long-wavelength limit of a Sellmeier term with its pole in the
  UV; it ignores infrared (phonon, free-carrier) contributions, which for lead-halide
  perovskite films start beyond 10 um.
- k: the Urbach tail k(E) = k_j exp((E - E_j)/E_u) continuing the table's last value k_j
  (E_u in eV; 0 when the table already reaches k = 0, as the Aftenieva film does from 850 nm).

This is not Kramers-Kronig-derived; it is a transparent-region approximation whose n error is
the curvature the Cauchy form cannot follow (below 0.005 over the fitted span for the films used).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .models import nm_to_ev

__all__ = ["CauchyJoin", "fit_cauchy_join", "extend_below_gap"]


@dataclass(frozen=True)
class CauchyJoin:
    """Sub-gap continuation beyond ``wl_join_nm``: Cauchy n (continuous at the join) + Urbach k.

    Attributes
    ----------
    wl_join_nm : float
        Last tabulated wavelength, nm, where the continuation starts.
    A, B, C : float
        Cauchy coefficients: dimensionless, um^2, um^4 (``nkdata.models.cauchy_n``).
    k_join : float
        k of the table at the join (>= 0).
    urbach_ev : float
        Urbach energy of the k tail, eV (> 0).
    fit_rms : float
        RMS of the Cauchy fit to the table's n over its fit span (dimensionless).

    References
    ----------
    F. Urbach, Phys. Rev. 92, 1324 (1953), doi:10.1103/PhysRev.92.1324 (the k tail).
    """

    wl_join_nm: float
    A: float
    B: float  # um^2
    C: float  # um^4
    k_join: float
    urbach_ev: float
    fit_rms: float  # RMS of the Cauchy fit to the table over its fit span

    def n(self, wavelengths_nm):
        """Refractive index n at vacuum wavelengths in nm (any shape)."""
        lam = np.asarray(wavelengths_nm, float) * 1e-3
        return self.A + self.B / lam**2 + self.C / lam**4

    def k(self, wavelengths_nm):
        """Extinction coefficient k at vacuum wavelengths in nm (k_join at and before the join)."""
        dE = nm_to_ev(wavelengths_nm) - nm_to_ev(self.wl_join_nm)  # <= 0 beyond the join
        return self.k_join * np.exp(np.minimum(dE, 0.0) / self.urbach_ev)


def fit_cauchy_join(func, wl_join_nm, fit_from_nm, urbach_ev=0.03, samples=61) -> CauchyJoin:
    """Fit :class:`CauchyJoin` to a tabulated material over [fit_from_nm, wl_join_nm].

    Parameters
    ----------
    func : callable
        Vacuum wavelength (nm, array) -> n + ik; k should be negligible over the fit span.
    wl_join_nm : float
        Join wavelength, nm (the end of the table).
    fit_from_nm : float
        Start of the fit span, nm, 0 < fit_from_nm < wl_join_nm (ValueError otherwise).
    urbach_ev : float, default 0.03
        Urbach energy of the k tail, eV (> 0).
    samples : int, default 61
        Points of the least-squares fit over the span.

    Returns
    -------
    CauchyJoin
    """
    if not (0 < fit_from_nm < wl_join_nm):
        raise ValueError(f"fit_cauchy_join: need 0 < fit_from_nm < wl_join_nm, got {fit_from_nm}, {wl_join_nm}")
    wl = np.linspace(fit_from_nm, wl_join_nm, samples)
    nk = np.asarray(func(wl), complex)
    lam, lj = wl * 1e-3, wl_join_nm * 1e-3
    nj = float(nk[-1].real)
    # n - nj = B (1/lam^2 - 1/lj^2) + C (1/lam^4 - 1/lj^4): linear least squares, exact at the join
    X = np.column_stack([1 / lam**2 - 1 / lj**2, 1 / lam**4 - 1 / lj**4])
    (B, C), *_ = np.linalg.lstsq(X, nk.real - nj, rcond=None)
    A = nj - B / lj**2 - C / lj**4
    resid = nk.real - (A + B / lam**2 + C / lam**4)
    return CauchyJoin(float(wl_join_nm), float(A), float(B), float(C), max(float(nk[-1].imag), 0.0),
                      float(urbach_ev), float(np.sqrt(np.mean(resid**2))))


def extend_below_gap(func, wl_join_nm, fit_from_nm, urbach_ev=0.03):
    """Continue a tabulated material beyond ``wl_join_nm`` into its transparent region.

    Parameters
    ----------
    func : callable
        Vacuum wavelength (nm, array) -> n + ik, valid up to ``wl_join_nm``.
    wl_join_nm, fit_from_nm, urbach_ev
        As ``fit_cauchy_join``.

    Returns
    -------
    extended : callable
        Wavelength (nm, any shape) -> n + ik (complex, same shape): ``func`` up to the
        join, the continuation beyond it.
    join : CauchyJoin
        The fitted continuation.
    """
    join = fit_cauchy_join(func, wl_join_nm, fit_from_nm, urbach_ev)

    def extended(wavelengths_nm):
        wl = np.asarray(wavelengths_nm, float)
        out = np.asarray(func(np.minimum(wl, wl_join_nm)), complex).copy()
        beyond = wl > wl_join_nm
        if np.any(beyond):
            w = wl[beyond]
            out[beyond] = join.n(w) + 1j * join.k(w)
        return out

    return extended, join
