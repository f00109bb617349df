"""Bandgap-tunable absorbers: KK-consistent band-edge shifts and the PbS quantum-dot model.

Bandgap convention (all tunable absorbers): ``bandgap_ev`` is the *optical absorption onset*,
found by :func:`absorption_onset_ev` -- the zero-crossing of the tangent to (alpha E)^2 at its
steepest point between guess - 0.2 eV and guess + 0.1 eV (the direct-gap Tauc construction;
the narrow upper limit keeps the tangent on the first edge, not on higher transitions). For QD films with an excitonic
peak the onset lies below the first excitonic maximum; :func:`pbs_exciton_peak_ev` gives the
peak.

Edge-shift model (:class:`EdgeShiftModel`)
    A base permittivity eps_b(E) (measured film or fitted oscillator model) is moved in energy
    near its band edge:  eps2(E) = eps2_b(E - s(E)),  with s = Delta up to Ec = max(gap) + 0.25 eV
    and a cosine taper to 0 over the next 1.0 eV, so high-energy transitions (less affected
    by confinement or alloying) stay where they were. The real part is kept Kramers-Kronig
    consistent: eps1 = eps1_b + KK[eps2 - eps2_b], computed with the exact piecewise-linear
    kernel of :func:`nkdata.models.kk_matrix` on a 2 meV grid. Delta is chosen (Newton steps on
    the measured onset, to 0.2 meV) so that the onset lands on the requested gap.
    Assumes the absorption-edge *shape* (Urbach width, excitonic enhancement) does not change
    with the gap; valid for shifts up to about +-0.55 eV (the taper keeps E -> E - s(E)
    monotonic for |Delta| < 0.64 eV). Outside the base data (below its lowest energy) eps2 is
    taken as 0, which is why the valid wavelength range stays that of the base.

PbS QD film (:func:`pbs_qd_eps`)
    Dot permittivity = eps_inf + Gaussian 1S exciton + Gaussian 1P-1P transition + Tauc-Lorentz
    continuum (onset 0.05 eV below the 1S peak, so the spectrum has the usual valley after the 1S
    peak at about half its height), mixed with an organic ligand matrix by Bruggeman EMA at a QD
    volume fraction of 0.45. The 400-nm absorption varies less with size than the 1S peak
    (k(400 nm) 0.66-1.0 for 1S peaks 1.4-0.95 eV), a simplification of the size-independent
    400-nm intrinsic absorption found by Moreels et al. 2009. Sizing: Moreels et al., ACS Nano 3, 3023
    (2009), doi:10.1021/nn900863a, E_1S = 0.41 + 1/(0.0252 d^2 + 0.283 d) eV (d in nm).
    Parameters are representative, not fitted to one film: n of the film 2.3-2.7 below the gap,
    k ~0.09-0.12 at the 1S peak (alpha ~1e4 cm^-1), k ~0.7-1.0 at 400 nm, the range reported for
    ligand-exchanged PbS QD films. Valid for onsets 0.8-1.5 eV, i.e. 1S peaks 0.83-1.56 eV
    (d ~ 5.6-2.5 nm), wavelengths 300-2500 nm.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .models import (HC_EV_NM, bruggeman_eps, eps_to_nk, gaussian_eps, kk_matrix, nm_to_ev,
                     tauc_lorentz_eps)

__all__ = ["absorption_onset_ev", "EdgeShiftModel", "moreels_peak_ev", "moreels_diameter_nm",
           "pbs_qd_eps", "pbs_exciton_peak_ev", "pbs_diameter_nm", "PBS_QD_FRACTION", "LIGAND_EPS"]

LIGAND_EPS = 1.46**2  # oleic acid / oleylamine-like ligand shell, n ~ 1.46 (refractiveindex.info organic/oleic_acid)
PBS_QD_FRACTION = 0.45


def absorption_onset_ev(energy_ev, alpha, guess_ev, window=(-0.2, 0.1)):
    """Optical absorption onset (eV) from alpha(E): tangent to (alpha E)^2 at its steepest rise.

    energy_ev ascending [N]; alpha [N] (any unit); the steepest point is searched in
    guess_ev + window. Returns the tangent's zero crossing.
    """
    E = np.asarray(energy_ev, float)
    y = (np.asarray(alpha, float) * E) ** 2
    sel = (E >= guess_ev + window[0]) & (E <= guess_ev + window[1])
    if sel.sum() < 5:
        raise ValueError("absorption_onset_ev: window holds fewer than 5 points")
    Es, ys = E[sel], y[sel]
    dy = np.gradient(ys, Es)
    i = int(np.argmax(dy))
    if dy[i] <= 0:
        raise ValueError("absorption_onset_ev: no rising absorption edge in the window")
    return float(Es[i] - ys[i] / dy[i])


def onset_of(nk_func, guess_ev, window=(-0.2, 0.1), step_ev=0.001):
    """Onset (eV) of a wavelength-nm -> n+ik function, on a 1 meV grid around guess."""
    E = np.arange(guess_ev + window[0] - 0.01, guess_ev + window[1] + 0.01, step_ev)
    wl = HC_EV_NM / E
    k = np.imag(nk_func(wl))
    return absorption_onset_ev(E, 4 * np.pi * k / wl, guess_ev, window)


@lru_cache(maxsize=4)
def _kernel_t(e0, step, size):
    """Shared transposed KK kernel for a grid e0 + step*i (float32 halves the memory traffic of
    the product; relative error ~1e-7 of eps1)."""
    E = e0 + step * np.arange(size)
    return np.ascontiguousarray(kk_matrix(E, E).T, dtype=np.float32)


class EdgeShiftModel:
    """Band-edge-shifted, KK-consistent permittivity built from a base eps(E).

    base_eps: callable E (eV) -> complex eps, defined on [e_min, e_max];
    native_guess_ev: rough onset of the base, to start the onset search.
    """

    STEP = 0.002
    TAPER_START = 0.25
    TAPER_WIDTH = 1.0

    def __init__(self, base_eps, e_min, e_max, native_guess_ev):
        self.E = np.arange(e_min, e_max + 0.5 * self.STEP, self.STEP)
        self.eps_b = np.asarray(base_eps(self.E), complex)
        self.e2_b = np.maximum(self.eps_b.imag, 0.0)
        self._K = None
        self.native_onset_ev = onset_of(self._nk_from_eps(self.eps_b), native_guess_ev)
        self._cache = lru_cache(maxsize=1024)(self._build)

    @property
    def KT(self):
        """Transposed KK kernel (rows = source energies), so slicing rows stays contiguous."""
        if self._K is None:
            self._K = _kernel_t(float(self.E[0]), self.STEP, self.E.size)
        return self._K

    def _nk_from_eps(self, eps):
        nk = eps_to_nk(eps)
        lnE = self.E
        n, k = nk.real, nk.imag

        def f(wl_nm):
            e = nm_to_ev(wl_nm)
            return np.interp(e, lnE, n) + 1j * np.interp(e, lnE, k)

        return f

    def shifted_eps(self, delta_ev):
        """Permittivity on self.E for an edge shift delta (eV)."""
        E = self.E
        ec = self.native_onset_ev + max(delta_ev, 0.0) + self.TAPER_START
        t = np.clip((E - ec) / self.TAPER_WIDTH, 0.0, 1.0)
        s = delta_ev * 0.5 * (1.0 + np.cos(np.pi * t))
        e2 = np.interp(E - s, E, self.e2_b, left=0.0, right=self.e2_b[-1])
        d2 = e2 - self.e2_b
        nz = np.nonzero(np.abs(d2) > 1e-9 * self.e2_b.max())[0]  # skip negligible far tails
        e1 = self.eps_b.real.copy()
        if nz.size:
            lo, hi = max(nz[0] - 1, 0), min(nz[-1] + 2, E.size)
            e1 = e1 + (d2[lo:hi].astype(np.float32) @ self.KT[lo:hi]).astype(float)
        return e1 + 1j * e2

    def _build(self, gap_key):
        gap = gap_key * 1e-4
        delta = gap - self.native_onset_ev
        for _ in range(4):
            f = self._nk_from_eps(self.shifted_eps(delta))
            err = gap - onset_of(f, gap)
            if abs(err) < 2e-4:
                return f, delta
            delta += err
        return self._nk_from_eps(self.shifted_eps(delta)), delta

    def nk_func(self, bandgap_ev):
        """wavelength (nm) -> n + ik for the requested onset; cached per 0.1 meV."""
        return self._cache(int(round(bandgap_ev * 1e4)))[0]

    def shift_ev(self, bandgap_ev):
        return self._cache(int(round(bandgap_ev * 1e4)))[1]


# ---------------------------------------------------------------- PbS quantum dots
def moreels_peak_ev(diameter_nm):
    """First excitonic (1S) peak energy of PbS QDs vs diameter, Moreels et al. ACS Nano 2009."""
    d = np.asarray(diameter_nm, float)
    return 0.41 + 1.0 / (0.0252 * d**2 + 0.283 * d)


def moreels_diameter_nm(peak_ev):
    """Inverse of :func:`moreels_peak_ev` (valid for peaks above the 0.41 eV bulk gap)."""
    x = 1.0 / (np.asarray(peak_ev, float) - 0.41)
    if np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"PbS 1S peak must exceed 0.41 eV (bulk gap), got {peak_ev}")
    return (-0.283 + np.sqrt(0.283**2 + 4 * 0.0252 * x)) / (2 * 0.0252)


def _pbs_dot_eps(E, peak_ev):
    fwhm = 0.06 + 0.06 * (peak_ev - 0.8)  # ensemble broadening grows for small dots
    eps = (3.2
           + gaussian_eps(E, 2.0, peak_ev, fwhm)
           + gaussian_eps(E, 1.2, peak_ev + 0.55 * (peak_ev - 0.41), 2.0 * fwhm)
           + tauc_lorentz_eps(E, 200.0, 1.8, 2.5, peak_ev - 0.05))
    return eps


def pbs_qd_eps(E, peak_ev, fraction=PBS_QD_FRACTION):
    """Complex permittivity of a PbS QD film (Bruggeman mix of dots and ligand), E in eV."""
    return bruggeman_eps(_pbs_dot_eps(np.asarray(E, float), peak_ev), LIGAND_EPS, fraction)


_PBS_GRID = np.arange(HC_EV_NM / 2600.0, HC_EV_NM / 290.0, 0.001)


@lru_cache(maxsize=1024)
def _pbs_tables(peak_key):
    nk = eps_to_nk(pbs_qd_eps(_PBS_GRID, peak_key * 1e-5))
    return nk.real.copy(), nk.imag.copy()


def pbs_nk_func(bandgap_ev):
    """wavelength (nm) -> n + ik of the PbS QD film with onset bandgap_ev, tabulated on a 1 meV
    grid per gap (linear interpolation; features are >= 60 meV wide) for speed."""
    n, k = _pbs_tables(int(round(pbs_exciton_peak_ev(bandgap_ev) * 1e5)))

    def f(wl_nm):
        e = nm_to_ev(wl_nm)
        return np.interp(e, _PBS_GRID, n) + 1j * np.interp(e, _PBS_GRID, k)

    return f


@lru_cache(maxsize=4096)
def _pbs_peak_for_gap(gap_key):
    gap = gap_key * 1e-4
    peak = gap + 0.08
    for _ in range(4):
        f = lambda wl, p=peak: eps_to_nk(pbs_qd_eps(nm_to_ev(wl), p))
        err = gap - onset_of(f, gap)
        peak += err
        if abs(err) < 2e-4:
            break
    return peak


def pbs_exciton_peak_ev(bandgap_ev):
    """1S excitonic peak (eV) of the PbS QD film model whose absorption onset is bandgap_ev."""
    return float(_pbs_peak_for_gap(int(round(bandgap_ev * 1e4))))


def pbs_diameter_nm(bandgap_ev):
    """QD diameter (nm) for an onset bandgap, via the 1S peak and the Moreels 2009 sizing curve."""
    return float(moreels_diameter_nm(pbs_exciton_peak_ev(bandgap_ev)))
