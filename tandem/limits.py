"""Detailed-balance limits for step absorbers: Shockley-Queisser and 2T/4T tandems.

Assumptions (Shockley & Queisser, J. Appl. Phys. 32, 510 (1961), doi:10.1063/1.1736034;
De Vos, J. Phys. D 13, 839 (1980)):
every photon above the gap is absorbed and gives one electron (EQE = step), each cell
emits black-body radiation above its gap into the front hemisphere only (n = 1, ideal
rear mirror / no emission into the lower cell, i.e. no luminescent coupling), ERE = 1
unless given, no resistive losses. The spectrum is ASTM G173 global on its native grid
(``optics.spectra``); the photocurrent (``optics.spectra.photocurrent_below``) integrates the linear interpolant of the
photon flux exactly up to the band-edge wavelength, and J0 uses the exact series

    integral_{Eg}^inf E^2 / (exp(E/kT) - 1) dE = (kT)^3 sum_k e^{-k x} (x^2/k + 2x/k^2 + 2/k^3), x = Eg/kT.

PCE is relative to the integrated table, 1000.37 W/m^2. Reproduces 33.7 % at 1.34 eV
(Jsc 35.0 mA/cm^2, Voc 1.082 V, FF 88.9 %), 2T 45.7 % (1.60/0.94 eV), 4T 46.1 %.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from optics.spectra import C_LIGHT, H_PLANCK, HC_EV_NM, K_B, Q_E, incident_power_mw_cm2, photocurrent_below

from .electrical import diode_from_currents, series_mpp, single_mpp

__all__ = ["LimitResult", "step_jsc", "step_j0_rad", "sq_limit", "tandem_limit", "best_tandem_pair",
           "si_wafer_limit", "BANDGAP_RANGE_EV"]

#: Band gaps the ASTM G173 table (280-4000 nm) can support, eV.
BANDGAP_RANGE_EV = (HC_EV_NM / 4000.0, HC_EV_NM / 280.0)


@dataclass(frozen=True)
class LimitResult:
    """Detailed-balance figures, each an array shaped like the band-gap input.

    Attributes
    ----------
    pce_pct : ndarray
        Power-conversion efficiency, % of the spectrum's integrated irradiance.
    jsc_ma_cm2 : ndarray
        Short-circuit current density, mA/cm^2.
    voc_v : ndarray
        Open-circuit voltage, V.
    ff_pct : ndarray
        Fill factor, %.
    """

    pce_pct: np.ndarray
    jsc_ma_cm2: np.ndarray
    voc_v: np.ndarray
    ff_pct: np.ndarray


def _check_gap(eg, what="bandgap_ev") -> np.ndarray:
    eg = np.asarray(eg, dtype=float)
    lo, hi = BANDGAP_RANGE_EV
    if not np.all(np.isfinite(eg)) or np.any((eg <= lo) | (eg >= hi)):
        raise ValueError(f"{what} must lie within {lo:.3f}-{hi:.3f} eV (the ASTM G173 range), got {eg}")
    return eg


def step_jsc(bandgap_ev, bandgap_above_ev=None, spectrum: str = "AM1.5G") -> np.ndarray:
    """Photocurrent of a step absorber (EQE = 1 above the gap, 0 below).

    Parameters
    ----------
    bandgap_ev : array_like
        Band gap, eV, inside ``BANDGAP_RANGE_EV`` (0.310-4.428 eV, the G173 table;
        ValueError otherwise).
    bandgap_above_ev : array_like, optional
        Gap of a cell in front, eV (same range): only the photons between the two gaps
        count. Broadcasts with ``bandgap_ev``.
    spectrum : str, default "AM1.5G"
        A name accepted by ``optics.spectra.spectrum_table``.

    Returns
    -------
    ndarray, broadcast shape of the inputs
        Jsc, mA/cm^2.

    References
    ----------
    W. Shockley & H. J. Queisser, J. Appl. Phys. 32, 510 (1961), doi:10.1063/1.1736034.
    """
    eg = _check_gap(bandgap_ev)
    j = photocurrent_below(HC_EV_NM / eg, spectrum)
    if bandgap_above_ev is not None:
        j = j - photocurrent_below(HC_EV_NM / _check_gap(bandgap_above_ev, "bandgap_above_ev"), spectrum)
    return j


def step_j0_rad(bandgap_ev, temperature_k: float = 300.0) -> np.ndarray:
    """Radiative saturation current of a step absorber emitting into the front hemisphere (n = 1).

    J0,rad = q 2 pi / (h^3 c^2) int_Eg^inf E^2 / (exp(E/kT) - 1) dE, by the exact series of
    the module docstring (black-body emission above the gap, EQE = step).

    Parameters
    ----------
    bandgap_ev : array_like
        Band gap, eV, inside ``BANDGAP_RANGE_EV``.
    temperature_k : float, default 300.0
        Cell temperature, K (> 0).

    Returns
    -------
    ndarray, shaped like ``bandgap_ev``
        J0,rad, mA/cm^2.

    References
    ----------
    W. Shockley & H. J. Queisser, J. Appl. Phys. 32, 510 (1961), doi:10.1063/1.1736034.
    """
    eg = _check_gap(bandgap_ev)
    kt = K_B * temperature_k
    x = eg * Q_E / kt
    k = np.arange(1, 60).reshape((-1,) + (1,) * eg.ndim)
    s = np.sum(np.exp(-k * x) * (x**2 / k + 2 * x / k**2 + 2 / k**3), axis=0)
    flux = 2 * np.pi / (H_PLANCK**3 * C_LIGHT**2) * kt**3 * s  # photons s^-1 m^-2
    return Q_E * flux * 0.1


def sq_limit(bandgap_ev, temperature_k: float = 300.0, ere=1.0, spectrum: str = "AM1.5G") -> LimitResult:
    """Shockley-Queisser limit of a single junction, vectorised over ``bandgap_ev``.

    Parameters
    ----------
    bandgap_ev : array_like
        Band gap, eV, inside ``BANDGAP_RANGE_EV``.
    temperature_k : float, default 300.0
        Cell temperature, K (> 0).
    ere : float or array_like, default 1.0
        External radiative efficiency, (0, 1]: J0 = J0,rad / ERE, so Voc drops by
        kT/q ln(1/ERE).
    spectrum : str, default "AM1.5G"
        A name accepted by ``optics.spectra.spectrum_table``; the PCE is relative to its
        integrated irradiance.

    Returns
    -------
    LimitResult
        Shaped like ``bandgap_ev``: 33.7 % at 1.34 eV under AM1.5G and 300 K.

    References
    ----------
    W. Shockley & H. J. Queisser, J. Appl. Phys. 32, 510 (1961), doi:10.1063/1.1736034.
    """
    eg = np.atleast_1d(_check_gap(bandgap_ev))
    cell = diode_from_currents(step_jsc(eg, spectrum=spectrum), step_j0_rad(eg, temperature_k), temperature_k, ere)
    m = single_mpp(cell)
    pce = m.pmax_mw_cm2 / incident_power_mw_cm2(spectrum) * 100
    shape = np.shape(bandgap_ev)
    return LimitResult(*(np.reshape(a, shape) for a in (pce, m.jsc_ma_cm2, m.voc_v, m.ff_pct)))


def tandem_limit(top_bandgap_ev, bottom_bandgap_ev, kind: str = "2T", temperature_k: float = 300.0,
                 spectrum: str = "AM1.5G") -> np.ndarray:
    """Detailed-balance PCE of a two-junction tandem of step absorbers (vectorised).

    The bottom cell receives the photons between the two gaps; no luminescent coupling.

    Parameters
    ----------
    top_bandgap_ev, bottom_bandgap_ev : array_like
        Gaps of the top and bottom cell, eV, inside ``BANDGAP_RANGE_EV``, top > bottom
        (ValueError otherwise); broadcast together.
    kind : {"2T", "4T"}, default "2T"
        "2T": series connection (common current); "4T": each cell at its own MPP.
    temperature_k : float, default 300.0
        Cell temperature, K (> 0).
    spectrum : str, default "AM1.5G"
        A name accepted by ``optics.spectra.spectrum_table``.

    Returns
    -------
    ndarray, broadcast shape of the gaps
        PCE, % (45.7 % for 2T at 1.60/0.94 eV under AM1.5G).

    References
    ----------
    A. De Vos, J. Phys. D 13, 839 (1980); W. Shockley & H. J. Queisser, J. Appl. Phys. 32,
    510 (1961), doi:10.1063/1.1736034.
    """
    et = np.atleast_1d(_check_gap(top_bandgap_ev, "top_bandgap_ev"))
    eb = np.atleast_1d(_check_gap(bottom_bandgap_ev, "bottom_bandgap_ev"))
    et, eb = (a.ravel() for a in np.broadcast_arrays(et, eb))
    if np.any(et <= eb):
        raise ValueError("top_bandgap_ev must exceed bottom_bandgap_ev")
    top = diode_from_currents(step_jsc(et, spectrum=spectrum), step_j0_rad(et, temperature_k), temperature_k)
    bot = diode_from_currents(step_jsc(eb, et, spectrum), step_j0_rad(eb, temperature_k), temperature_k)
    if kind == "2T":
        p = series_mpp(top, bot).pmax_mw_cm2
    elif kind == "4T":
        p = single_mpp(top).pmax_mw_cm2 + single_mpp(bot).pmax_mw_cm2
    else:
        raise ValueError(f"kind must be '2T' or '4T', got {kind!r}")
    out = p / incident_power_mw_cm2(spectrum) * 100
    return out.reshape(np.broadcast_shapes(np.shape(top_bandgap_ev), np.shape(bottom_bandgap_ev)))


def best_tandem_pair(kind: str = "2T", bottom_bandgap_ev: float | None = None,
                     temperature_k: float = 300.0, grid_step_ev: float = 0.01) -> tuple[float, float, float]:
    """Optimal band-gap pair of a 2T or 4T tandem of step absorbers under AM1.5G.

    A grid search (top 1.40-2.20 eV, bottom 0.70-1.40 eV in ``grid_step_ev`` steps) is
    refined by Nelder-Mead on ``tandem_limit``.

    Parameters
    ----------
    kind : {"2T", "4T"}, default "2T"
    bottom_bandgap_ev : float, optional
        Fix the bottom gap, eV (e.g. 1.12 for Si); then only the top gap is optimised.
    temperature_k : float, default 300.0
        Cell temperature, K.
    grid_step_ev : float, default 0.01
        Step of the starting grid, eV.

    Returns
    -------
    pce_pct : float
        Best PCE, %.
    top_bandgap_ev, bottom_bandgap_ev : float
        The gaps that give it, eV.
    """
    tops = np.arange(1.40, 2.20, grid_step_ev)
    if bottom_bandgap_ev is not None:
        pce = tandem_limit(tops, bottom_bandgap_ev, kind, temperature_k)
        t0 = tops[np.argmax(pce)]
        res = minimize(lambda x: -tandem_limit(x[0], bottom_bandgap_ev, kind, temperature_k)[()],
                       [t0], method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6})
        return float(-res.fun), float(res.x[0]), float(bottom_bandgap_ev)
    bots = np.arange(0.70, 1.40, grid_step_ev)
    tt, bb = np.meshgrid(tops, bots, indexing="ij")
    pce = tandem_limit(tt, bb, kind, temperature_k)
    i = np.unravel_index(np.argmax(pce), pce.shape)
    res = minimize(lambda x: -tandem_limit(x[0], x[1], kind, temperature_k)[()], [tt[i], bb[i]],
                   method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6})
    return float(-res.fun), float(res.x[0]), float(res.x[1])


def si_wafer_limit(thickness_um: float = 110.0, temperature_k: float = 298.15, doping_cm3: float = 0.0,
                   light_trapping: str = "tiedje", wavelengths_nm=None):
    """Intrinsic efficiency limit of a crystalline Si wafer (Richter et al. 2013).

    The model of Richter, Hermle & Glunz, IEEE J. Photovolt. 3, 1184 (2013): ideal
    anti-reflection (index-matched incidence), light trapping with an ideal rear mirror,
    radiative recombination (here from reciprocity on the computed EQE, so photon recycling
    is consistent with the optics), Auger recombination of Richter et al., Phys. Rev. B 86,
    165202 (2012), the injection-dependent band-gap narrowing of Schenk (1998) and the
    free-carrier absorption of the carriers at the maximum power point (``tandem.silicon``);
    optical constants of Green 2008 (``nkdata.get("Si")``). A 110 um undoped wafer gives
    29.50 % here against Richter's 29.43 % (Voc 760.9 mV and FF 89.28 % against 761 mV and
    89.26 %; Jsc 43.43 against 43.31 mA/cm^2), see tests/data/richter2013_si_limit.csv.

    Parameters
    ----------
    thickness_um : float
        Wafer thickness, um (> 0).
    temperature_k : float
        Cell temperature, K (> 0); 298.15 K (25 C) in Richter et al.
    doping_cm3 : float
        n-type doping, cm^-3 (>= 0; 0 = undoped).
    light_trapping : {"tiedje", "lambertian", "none"}
        "tiedje" (default): the 4 n^2 Lambertian limit in its weak-absorption form, as in
        Richter et al.; "lambertian": the same limit with the exponential single-pass
        attenuation (``optics.light_trapping``), which absorbs more where a W ~ 0.1-1 and
        gives 29.66 % at 110 um (an accurate absorptance raises the limit; Schaefer &
        Brendel, IEEE J. Photovolt. 8, 1156 (2018)); "none": a planar wafer, light leaves
        through the rear.
    wavelengths_nm : sequence of float, optional
        Optical grid, nm (default 300-1300 nm in 5 nm steps).

    Returns
    -------
    tandem.DeviceResult
        Of the single-junction wafer (PCE in %, relative to the AM1.5G irradiance).

    References
    ----------
    A. Richter, M. Hermle & S. W. Glunz, IEEE J. Photovolt. 3, 1184 (2013),
    doi:10.1109/JPHOTOV.2013.2270351; A. Richter et al., Phys. Rev. B 86, 165202 (2012),
    doi:10.1103/PhysRevB.86.165202; A. Schenk, J. Appl. Phys. 84, 3684 (1998);
    M. A. Green, Sol. Energy Mater. Sol. Cells 92, 1305 (2008).
    """
    import nkdata
    from optics import Layer, Stack

    from .device import Design, Subcell
    from .evaluation import evaluate

    if not (thickness_um > 0):
        raise ValueError(f"thickness_um must be > 0, got {thickness_um}")
    si = nkdata.get("Si")
    matched = lambda wl: np.asarray(si.nk(wl)).real + 0j  # noqa: E731
    wl = wavelengths_nm if wavelengths_nm is not None else tuple(np.arange(300.0, 1300.0 + 1e-9, 5.0))
    stack = Stack([Layer(si, thickness_um * 1e3, coherent=False, name="Si wafer")], incident=matched)
    design = Design(stack, "single", Subcell(0, "Si_intrinsic", si_doping_cm3=doping_cm3),
                    wavelengths_nm=tuple(wl), temperature_k=temperature_k, light_trapping=light_trapping)
    return evaluate(design, with_cri=False)
