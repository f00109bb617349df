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
    kernel of :func:`nkdata.models.kk_matrix` on a 2 meV grid. Delta is chosen so that the onset
    lands on the requested gap: the onset is measured once on shift nodes 5 meV apart
    (:class:`OnsetInverse`) and Delta interpolated linearly between them (onset error < 0.1 meV).
    Assumes the absorption-edge *shape* (Urbach width, excitonic enhancement) does not change
    with the gap; valid for shifts up to about +-0.55 eV (the taper keeps E -> E - s(E)
    monotonic for |Delta| < 0.64 eV). Outside the base data (below its lowest energy) eps2 is
    taken as 0, which is why the valid wavelength range stays that of the base (300-2000 nm
    for all bases in the catalogue; the Aftenieva film's is continued below its gap by
    :mod:`nkdata.subgap`).

    Cost of a new gap: the kernel is one float32 matrix per energy grid, built once; a new
    gap interpolates eps2 on the grid and multiplies only the kernel rows next to the requested
    wavelengths with the changed part of eps2 (~0.2 ms at 200 wavelengths, against 17-23 ms for
    the Newton search with full-grid products it replaces; benchmarks/bench_nkdata.py).

PbS QD film (:func:`pbs_qd_eps`)
    Dot permittivity = eps_inf + Gaussian 1S exciton + Gaussian 1P-1P transition + Tauc-Lorentz
    continuum (onset 0.05 eV below the 1S peak, so the spectrum has the usual valley after the 1S
    peak at about half its height), mixed with an organic ligand matrix by Bruggeman EMA at a QD
    volume fraction of 0.45. The 400-nm absorption varies less with size than the 1S peak
    (k(400 nm) 0.66-1.0 for 1S peaks 1.4-0.95 eV), a simplification of the size-independent
    400-nm intrinsic absorption found by Moreels et al. 2009. Sizing: Moreels et al., ACS Nano 3, 3023
    (2009), doi:10.1021/nn900863a, E_1S = 0.41 + 1/(0.0252 d^2 + 0.283 d) eV (d in nm).
    Parameters are representative, not fitted to one film: for 1S peaks 0.95-1.4 eV the model
    gives n 2.2-2.7 below the gap, k ~0.09-0.11 at the 1S peak (alpha ~1e4 cm^-1) and k 0.66-1.0
    at 400 nm, the range reported for ligand-exchanged PbS QD films (over the whole valid range,
    n 2.15-2.8, k 0.08-0.12 at the peak, k 0.56-1.12 at 400 nm). Valid for onsets 0.8-1.5 eV,
    i.e. 1S peaks 0.83-1.56 eV (d ~ 5.6-2.5 nm), wavelengths 300-2500 nm. The 1S peak for a requested onset comes from
    onsets measured on 5-meV peak nodes (:class:`OnsetInverse`); n,k are the analytic model at
    the requested wavelengths (~0.3 ms for 200).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .models import (HC_EV_NM, bruggeman_eps, eps_to_nk, gaussian_eps, kk_matrix, nm_to_ev,
                     tauc_lorentz_eps)

__all__ = ["absorption_onset_ev", "EdgeShiftModel", "moreels_peak_ev", "moreels_diameter_nm",
           "pbs_qd_eps", "pbs_exciton_peak_ev", "pbs_diameter_nm", "PBS_QD_FRACTION", "LIGAND_EPS",
           "OnsetInverse", "PBS_INVERSE"]

#: Permittivity of the organic ligand matrix of QD films: n ~ 1.46, oleic acid / oleylamine-like
#: (refractiveindex.info organic/oleic_acid).
LIGAND_EPS = 1.46**2
#: QD volume fraction of the PbS film model (Bruggeman mix with LIGAND_EPS).
PBS_QD_FRACTION = 0.45


def absorption_onset_ev(energy_ev, alpha, guess_ev, window=(-0.2, 0.1)):
    """Optical absorption onset from alpha(E): tangent to (alpha E)^2 at its steepest rise.

    The direct-gap Tauc construction (the bandgap convention of every tunable absorber, see
    the module docstring).

    Parameters
    ----------
    energy_ev : array_like, shape [N]
        Ascending photon energies, eV.
    alpha : array_like, shape [N]
        Absorption coefficient (any unit; the onset does not depend on it).
    guess_ev : float
        Rough onset, eV.
    window : (float, float), default (-0.2, 0.1)
        The steepest point is searched in [guess_ev + window[0], guess_ev + window[1]], eV;
        it must hold at least 5 points and a rising edge (ValueError otherwise).

    Returns
    -------
    float
        Zero crossing of the tangent, eV.

    References
    ----------
    J. Tauc, R. Grigorovici & A. Vancu, Phys. Status Solidi 15, 627 (1966), here in the
    direct-allowed form (alpha E)^2.
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
    """Absorption onset of a material, from k on a fine energy grid around ``guess_ev``.

    Parameters
    ----------
    nk_func : callable
        Vacuum wavelength (nm, array) -> n + ik.
    guess_ev : float
        Rough onset, eV.
    window : (float, float), default (-0.2, 0.1)
        As ``absorption_onset_ev``, eV.
    step_ev : float, default 0.001
        Energy step of the grid, eV.

    Returns
    -------
    float
        Onset, eV (``absorption_onset_ev`` of alpha = 4 pi k / lambda).
    """
    E = np.arange(guess_ev + window[0] - 0.01, guess_ev + window[1] + 0.01, step_ev)
    wl = HC_EV_NM / E
    k = np.imag(nk_func(wl))
    return absorption_onset_ev(E, 4 * np.pi * k / wl, guess_ev, window)


class OnsetInverse:
    """The model parameter that puts the absorption onset on a requested gap, without root finding.

    ``onset_fn(p)`` (eV) is evaluated lazily on the nodes p = i * step (i integer) and cached; a gap is
    bracketed by two neighbouring nodes and p follows by linear interpolation between them. The
    models here have onset(p) = p + (slowly varying), so with 5-meV nodes the interpolation error
    in the onset is below 0.5 meV (tests compare with the onset actually measured), and a new gap
    costs two dictionary look-ups once its neighbouring nodes exist.

    Parameters
    ----------
    onset_fn : callable
        Model parameter p (eV: an edge shift or a 1S peak energy) -> onset, eV; monotonic
        increasing in p.
    guess_fn : callable
        Requested gap (eV) -> rough p, to start the bracketing.
    step : float, default 0.005
        Node spacing in p, eV.

    Calling the object with a gap (eV) returns p (eV); ValueError if no node pair within
    200 steps of the guess brackets it.
    """

    def __init__(self, onset_fn, guess_fn, step=0.005):
        self.onset_fn, self.guess_fn, self.step = onset_fn, guess_fn, step
        self.nodes: dict[int, float] = {}

    def _at(self, i):
        v = self.nodes.get(i)
        if v is None:
            v = self.nodes[i] = float(self.onset_fn(i * self.step))
        return v

    def prepare(self, gap_lo, gap_hi):
        """Evaluate every node needed for gaps in [gap_lo, gap_hi] (eV), so later calls are look-ups."""
        for g in np.arange(gap_lo, gap_hi + self.step, self.step):
            self(min(g, gap_hi))

    def __call__(self, gap_ev):
        i = int(np.floor(self.guess_fn(gap_ev) / self.step))
        for _ in range(200):
            a, b = self._at(i), self._at(i + 1)
            if gap_ev < a:
                i -= 1
            elif gap_ev > b:
                i += 1
            else:
                break
        else:  # pragma: no cover - onset(p) is monotonic for the models in nkdata
            raise ValueError(f"no model parameter gives an onset of {gap_ev} eV")
        t = 0.5 if b <= a else (gap_ev - a) / (b - a)
        return (i + t) * self.step


class _KernelRows:
    """KK kernel on the grid e0 + step*i (rows = output energies, float32: halves the memory
    traffic of the products; relative error ~1e-7 of eps1), its rows computed in blocks on
    first use: a study needs only the rows of its wavelength grid and of the onset windows
    of its gap range, a few hundred of the ~1750, and the whole matrix costs ~0.15 s."""

    BLOCK = 64

    def __init__(self, e0, step, size):
        self.E = e0 + step * np.arange(size)
        self._K = np.empty((size, size), np.float32)
        self._done = np.zeros(-(-size // self.BLOCK), bool)

    def rows(self, sel=slice(None)):
        """Rows ``sel`` (a slice or an index array) of the kernel, all columns."""
        idx = np.arange(self.E.size)[sel]
        blocks = np.unique(np.asarray(idx) // self.BLOCK)
        for b in blocks[~self._done[blocks]]:
            r0, r1 = b * self.BLOCK, min((b + 1) * self.BLOCK, self.E.size)
            self._K[r0:r1] = kk_matrix(self.E[r0:r1], self.E)    # rows are independent
            self._done[b] = True
        return self._K[sel]


@lru_cache(maxsize=4)
def _kernel(e0, step, size):
    """The ``_KernelRows`` of the grid e0 + step*i (shared by all models on it)."""
    return _KernelRows(e0, step, size)


class _Plan:
    """Interpolation of grid values at fixed wavelengths: grid rows J that bracket the energies,
    weights, and the kernel rows K[J] (gathered once per wavelength grid)."""

    def __init__(self, E, kernel, wl_nm):
        e = nm_to_ev(wl_nm)
        i0 = np.clip(np.searchsorted(E, e, side="right") - 1, 0, E.size - 2)
        self.t = np.clip((e - E[i0]) / (E[i0 + 1] - E[i0]), 0.0, 1.0)  # clamped like np.interp
        J, inv = np.unique(np.concatenate([i0, i0 + 1]), return_inverse=True)
        self.J, self.a, self.b = J, inv[:e.size], inv[e.size:]
        self.KJ = np.ascontiguousarray(kernel.rows(J))


class _ShiftedNK:
    """wavelength (nm) -> n + ik of one edge-shifted permittivity.

    eps2 is held on the model grid; eps1 = eps1_b + KK[eps2 - eps2_b] is evaluated only on the grid
    points that bracket the requested wavelengths (one kernel-row product), then n and k are
    interpolated linearly in energy between them (as for a table on the 2-meV grid).
    """

    __slots__ = ("model", "e2", "d2", "lo", "hi", "_last")

    def __init__(self, model, e2, d2, lo, hi):
        self.model, self.e2, self.d2, self.lo, self.hi = model, e2, d2, lo, hi
        self._last = (None, None)

    def __call__(self, wavelengths_nm):
        wl = np.asarray(wavelengths_nm, float)
        key = (wl.shape, wl.tobytes())
        if self._last[0] == key:
            return self._last[1].copy()
        plan = self.model._plan(wl.ravel())
        e1 = self.model.eps_b.real[plan.J]
        if self.hi > self.lo:
            e1 = e1 + (plan.KJ[:, self.lo:self.hi] @ self.d2).astype(float)
        nk = eps_to_nk(e1 + 1j * self.e2[plan.J])
        t = plan.t
        out = (nk[plan.a] * (1.0 - t) + nk[plan.b] * t).reshape(wl.shape)
        self._last = (key, out)
        return out.copy()


class EdgeShiftModel:
    """Band-edge-shifted, KK-consistent permittivity built from a base eps(E).

    The model of the module docstring: eps2(E) = eps2_b(E - s(E)) with a tapered shift s,
    eps1 = eps1_b + KK[eps2 - eps2_b].

    Parameters
    ----------
    base_eps : callable
        Photon energy (eV, array) -> complex permittivity of the unshifted material,
        defined on [e_min, e_max].
    e_min, e_max : float
        Energy span of the model grid (2 meV steps), eV; the material is valid at the
        wavelengths hc/e_max .. hc/e_min.
    native_guess_ev : float
        Rough onset of the base, eV, to start the onset search.

    Speed: the KK kernel is one matrix per energy grid (shared by all models on it); the shift
    that gives a requested onset comes from :class:`OnsetInverse` (onsets measured on 5-meV shift
    nodes, each from the kernel rows of the onset window only); a new gap then costs one
    interpolation of eps2 and one product of the kernel rows of the requested wavelengths with the
    changed part of eps2 (timed in benchmarks/bench_nkdata.py, see the module docstring).
    """

    STEP = 0.002
    TAPER_START = 0.25
    TAPER_WIDTH = 1.0
    NODE_STEP = 0.005

    def __init__(self, base_eps, e_min, e_max, native_guess_ev):
        self.E = np.arange(e_min, e_max + 0.5 * self.STEP, self.STEP)
        self.eps_b = np.asarray(base_eps(self.E), complex)
        self.e2_b = np.maximum(self.eps_b.imag, 0.0)
        self._K = None
        self._plans: dict = {}
        self.native_onset_ev = onset_of(self._nk_from_eps(self.eps_b), native_guess_ev)
        self.inverse = OnsetInverse(self._onset_of_shift, lambda gap: gap - self.native_onset_ev, self.NODE_STEP)
        self._cache = lru_cache(maxsize=1024)(self._build)

    @property
    def kernel(self):
        """KK kernel rows on self.E (``_KernelRows``, computed on first use)."""
        if self._K is None:
            self._K = _kernel(float(self.E[0]), self.STEP, self.E.size)
        return self._K

    @property
    def K(self):
        """KK kernel on self.E (rows = output energies, float32), all rows."""
        return self.kernel.rows()

    def _nk_from_eps(self, eps, E=None):
        nk = eps_to_nk(eps)
        lnE = self.E if E is None else E
        n, k = nk.real, nk.imag

        def f(wl_nm):
            e = nm_to_ev(wl_nm)
            return np.interp(e, lnE, n) + 1j * np.interp(e, lnE, k)

        return f

    def _plan(self, wl_flat):
        key = wl_flat.tobytes()
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= 8:  # each holds the kernel rows of one wavelength grid (~3 MB)
                self._plans.pop(next(iter(self._plans)))
            plan = self._plans[key] = _Plan(self.E, self.kernel, wl_flat)
        return plan

    def _shifted_e2(self, delta_ev):
        """eps2 on self.E for an edge shift delta (eV), and the index span where it differs from the base."""
        E = self.E
        ec = self.native_onset_ev + max(delta_ev, 0.0) + self.TAPER_START
        t = np.clip((E - ec) / self.TAPER_WIDTH, 0.0, 1.0)
        s = delta_ev * 0.5 * (1.0 + np.cos(np.pi * t))
        e2 = np.interp(E - s, E, self.e2_b, left=0.0, right=self.e2_b[-1])
        d2 = e2 - self.e2_b
        nz = np.nonzero(np.abs(d2) > 1e-9 * self.e2_b.max())[0]  # skip negligible far tails
        if nz.size == 0:
            return e2, d2, 0, 0
        return e2, d2, max(nz[0] - 1, 0), min(nz[-1] + 2, E.size)

    def shifted_eps(self, delta_ev):
        """Permittivity on the model grid ``self.E`` for an edge shift ``delta_ev`` (eV), complex [E]."""
        e2, d2, lo, hi = self._shifted_e2(delta_ev)
        e1 = self.eps_b.real.copy()
        if hi > lo:
            e1 = e1 + (self.K[:, lo:hi] @ d2[lo:hi].astype(np.float32)).astype(float)
        return e1 + 1j * e2

    def _onset_of_shift(self, delta_ev):
        """Onset (eV) of the model shifted by delta, from eps1 on the onset window only."""
        guess = self.native_onset_ev + delta_ev
        e2, d2, lo, hi = self._shifted_e2(delta_ev)
        r0 = max(int(np.searchsorted(self.E, guess - 0.25)) - 1, 0)
        r1 = min(int(np.searchsorted(self.E, guess + 0.15)) + 1, self.E.size)
        e1 = self.eps_b.real[r0:r1]
        if hi > lo:
            e1 = e1 + (self.kernel.rows(slice(r0, r1))[:, lo:hi] @ d2[lo:hi].astype(np.float32)).astype(float)
        return onset_of(self._nk_from_eps(e1 + 1j * e2[r0:r1], self.E[r0:r1]), guess)

    def _build(self, gap_key):
        delta = self.inverse(gap_key * 1e-4)
        e2, d2, lo, hi = self._shifted_e2(delta)
        return _ShiftedNK(self, e2, d2[lo:hi].astype(np.float32), lo, hi), delta

    def nk_func(self, bandgap_ev):
        """The material whose absorption onset is ``bandgap_ev``.

        Parameters
        ----------
        bandgap_ev : float
            Requested onset, eV (within about +-0.55 eV of ``native_onset_ev``); rounded to
            0.1 meV, and cached per value.

        Returns
        -------
        callable
            Vacuum wavelength (nm, any shape) -> n + ik (same shape).
        """
        return self._cache(int(round(bandgap_ev * 1e4)))[0]

    def shift_ev(self, bandgap_ev):
        """Edge shift Delta (eV) that puts the onset on ``bandgap_ev`` (eV)."""
        return self._cache(int(round(bandgap_ev * 1e4)))[1]


# ---------------------------------------------------------------- PbS quantum dots
def moreels_peak_ev(diameter_nm):
    """First excitonic (1S) peak energy of PbS QDs, E_1S = 0.41 + 1/(0.0252 d^2 + 0.283 d).

    Parameters
    ----------
    diameter_nm : array_like
        QD diameter d, nm (> 0; the fit covers about 2.5-10 nm).

    Returns
    -------
    ndarray, shaped like ``diameter_nm``
        E_1S, eV (0.41 eV is the bulk PbS gap).

    References
    ----------
    I. Moreels et al., ACS Nano 3, 3023 (2009), doi:10.1021/nn900863a.
    """
    d = np.asarray(diameter_nm, float)
    return 0.41 + 1.0 / (0.0252 * d**2 + 0.283 * d)


def moreels_diameter_nm(peak_ev):
    """QD diameter for a 1S peak energy: the inverse of :func:`moreels_peak_ev`.

    Parameters
    ----------
    peak_ev : array_like
        1S peak energy, eV (> 0.41 eV, the bulk gap; ValueError otherwise).

    Returns
    -------
    ndarray, shaped like ``peak_ev``
        Diameter, nm.

    References
    ----------
    I. Moreels et al., ACS Nano 3, 3023 (2009), doi:10.1021/nn900863a.
    """
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
    """Complex permittivity of a PbS QD film: Bruggeman mix of dots and ligand.

    The dot permittivity is the model of the module docstring (Gaussian 1S and 1P-1P
    transitions and a Tauc-Lorentz continuum, representative parameters).

    Parameters
    ----------
    E : array_like, any shape
        Photon energy, eV.
    peak_ev : float
        1S excitonic peak of the dots, eV (0.83-1.56 eV for the valid onsets 0.8-1.5 eV).
    fraction : float, default PBS_QD_FRACTION (0.45)
        QD volume fraction, [0, 1].

    Returns
    -------
    complex ndarray, shaped like ``E``

    References
    ----------
    I. Moreels et al., ACS Nano 3, 3023 (2009), doi:10.1021/nn900863a (1S peak vs size);
    D. A. G. Bruggeman, Ann. Phys. 416, 636 (1935), doi:10.1002/andp.19354160705.
    """
    return bruggeman_eps(_pbs_dot_eps(np.asarray(E, float), peak_ev), LIGAND_EPS, fraction)


def _pbs_onset_of_peak(peak_ev):
    return onset_of(lambda wl: eps_to_nk(pbs_qd_eps(nm_to_ev(wl), peak_ev)), peak_ev - 0.08)


# 1S peak for a requested onset: onsets measured on 5-meV peak nodes, linear in between
PBS_INVERSE = OnsetInverse(_pbs_onset_of_peak, lambda gap: gap + 0.08, step=0.005)


class _PbsNK:
    """wavelength (nm) -> n + ik of the PbS QD film with a given 1S peak (the analytic model,
    evaluated at the requested wavelengths; the last result is kept for repeated calls)."""

    __slots__ = ("peak_ev", "_last")

    def __init__(self, peak_ev):
        self.peak_ev, self._last = peak_ev, (None, None)

    def __call__(self, wavelengths_nm):
        wl = np.asarray(wavelengths_nm, float)
        key = (wl.shape, wl.tobytes())
        if self._last[0] != key:
            self._last = (key, eps_to_nk(pbs_qd_eps(nm_to_ev(wl), self.peak_ev)))
        return self._last[1].copy()


def pbs_nk_func(bandgap_ev):
    """The PbS QD film whose absorption onset is ``bandgap_ev``.

    Parameters
    ----------
    bandgap_ev : float
        Absorption onset, eV (0.80-1.50).

    Returns
    -------
    callable
        Vacuum wavelength (nm, any shape) -> n + ik (same shape), valid 300-2500 nm.
    """
    return _PbsNK(pbs_exciton_peak_ev(bandgap_ev))


@lru_cache(maxsize=4096)
def _pbs_peak_for_gap(gap_key):
    return PBS_INVERSE(gap_key * 1e-4)


def pbs_exciton_peak_ev(bandgap_ev):
    """1S excitonic peak of the PbS QD film model whose absorption onset is ``bandgap_ev``.

    Parameters
    ----------
    bandgap_ev : float
        Absorption onset, eV (0.80-1.50); rounded to 0.1 meV and cached.

    Returns
    -------
    float
        1S peak, eV (above the onset).
    """
    return float(_pbs_peak_for_gap(int(round(bandgap_ev * 1e4))))


def pbs_diameter_nm(bandgap_ev):
    """QD diameter for an onset band gap, via the 1S peak and the Moreels 2009 sizing curve.

    Parameters
    ----------
    bandgap_ev : float
        Absorption onset, eV (0.80-1.50).

    Returns
    -------
    float
        Diameter, nm.

    References
    ----------
    I. Moreels et al., ACS Nano 3, 3023 (2009), doi:10.1021/nn900863a.
    """
    return float(moreels_diameter_nm(pbs_exciton_peak_ev(bandgap_ev)))
