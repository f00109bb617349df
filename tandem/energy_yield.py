"""Annual energy yield of single-junction, semitransparent, 2T and 4T devices under real
hourly spectra, angles of incidence and cell temperatures.

Input: one or many ``tandem.Design`` and an ``HourlyIrradiance`` (``tandem.outdoor_spectra``,
built from a site or weather file with ``yield_conditions``). Per design:

1. Optics at the angle of incidence. The device is solved (``tandem.evaluate_batch``, s and p
   averaged) at the angle nodes ``ANGLE_NODES_DEG``; each subcell's EQE (and the
   transmittance) is taken piecewise linear in 1 - cos(angle) between the nodes, zero at
   grazing incidence (90 deg, where a planar stack reflects everything). The direct beam
   of each hour uses the EQE at its angle of incidence; isotropic diffuse light uses the
   hemispherical average  EQE_dif = int_0^90 EQE(t) sin(2t) dt  of the same piecewise-linear
   EQE (exact quadrature of the interpolant). The 8 nodes give the annual yield within 0.1 %
   of an 18-node grid for the 2T and window examples (6 nodes: 0.25 %).
2. Photocurrents of every hour: Jph = q int EQE (phi_direct(t_aoi) + phi_diffuse), the
   spectra put on the design's optical grid with the same quadrature as the STC Jsc (the EQE
   linear between grid points, the spectrum exact on its own grid).
3. Temperature. The cell temperature of the hour (Faiman model) enters the detailed-balance
   diode of each subcell: J0,rad by reciprocity with the black body at that temperature,
   the non-radiative part through the ERE (or, for the Si presets, n_i(T)^2), kT/q in the
   J-V. The absorption edge follows the band gap, Eg(T) = Eg(25 C) + dEg/dT (T - 25 C), as a
   rigid shift of the EQE in photon energy within 100 nm of the subcell's edge, to first
   order: EQE_T(E) = EQE(E - dEg) ~ EQE(E) - dEg dEQE/dE (the change of the light passed on to a lower
   subcell is neglected). Coefficients ``BANDGAP_TC_EV_K`` per electrical preset.
4. Electrics: the diodes of ``tandem.evaluate_batch`` (``evaluation.diode_arrays``): carrier
   collection (issue 10) gives the collected EQE above, a voltage-dependent photocurrent
   Jph(V) (the collected EQE at each junction voltage, integrated under the hour's spectra
   like the EQE: eta_c does not depend on the spectrum) and the thickness-scaled
   recombination; each hour's operating point from ``tandem.electrical``: a 2T tandem at the MPP of
   the series connection (common current), a 4T tandem with each subcell at its own MPP,
   single and semitransparent cells at their MPP.
5. Speed: hours whose electrical inputs are nearly equal give nearly the same operating
   point, so hours are grouped into bins of subcell photocurrent (log steps), current
   ratio (2T) and cell temperature; the diode model is solved once per bin at the bin's
   mean inputs (first-order exact) and each hour gets the bin's efficiency. The binned
   yield stays within 0.05 % of the hour-by-hour calculation for the shipped examples
   (``method="hourly"`` computes every hour; tests/test_energy_yield.py checks 0.5 %).

Outputs (``YieldResult.to_dict``): ``energy_yield_kwh_m2`` (electrical energy per m^2 of cell
over the period), ``incident_kwh_m2`` (plane-of-array irradiation), ``ehe_pct`` (energy
harvesting efficiency = yield / incident), ``stc_pce_pct``, the loss cascade in % of the STC
expectation (STC PCE x incident energy): ``loss_low_light_pct`` (AM1.5G-shaped light at each
hour's irradiance, normal incidence, 25 C), ``loss_spectral_pct`` (the real spectra),
``loss_angle_pct`` (angles of incidence and diffuse light), ``loss_temperature_pct`` (cell
temperature); for 2T the energy-weighted mean current mismatch; for semitransparent cells
the light transmitted into the room (``transmitted_kwh_m2`` over the optical grid and the
luminous exposure ``daylight_klxh``). Monthly values in ``monthly``.

References: the energy-harvesting efficiency and loss split follow the energy-yield
literature on tandems [Hoerantner & Snaith, Energy Environ. Sci. 10, 1983 (2017); Schmager
et al., Opt. Express 27, A507 (2019) (EYcalc); Futscher & Ehrler, ACS Energy Lett. 1, 863
(2016)].
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np

from optics import spectra
from optics.spectra import HC_EV_NM

from . import electrical as el
from .device import Design
from .collection import VOLTAGE_NODES_KT
from .evaluation import ROLES, diode_arrays, evaluate_batch_spectra
from .vocabulary import YIELD_METRICS
from .yield_bins import hourly_power, make_bins
from .outdoor_spectra import HourlyIrradiance, constant_irradiance, hourly_irradiance

__all__ = ["ANGLE_NODES_DEG", "BANDGAP_TC_EV_K", "YieldResult", "annual_yield", "annual_yield_batch",
           "yield_conditions", "YIELD_METRICS", "METHODS"]

#: Angles of incidence (deg) at which each device is solved; 90 deg is taken as EQE = T = 0.
ANGLE_NODES_DEG = (0.0, 25.0, 40.0, 52.0, 62.0, 70.0, 77.0, 84.0)
METHODS = ("binned", "hourly")

#: Band-gap temperature coefficients dEg/dT (eV/K) near room temperature, per electrical preset.
BANDGAP_TC_EV_K: dict[str, float] = {
    # Si: Varshni fit of Alex, Finkbeiner & Weber, J. Appl. Phys. 79, 6943 (1996):
    # Eg = 1.1692 - 4.9e-4 T^2 / (T + 655) eV -> -2.6e-4 eV/K at 298 K.
    "Si_HJT": -2.6e-4, "Si_TOPCon": -2.6e-4, "Si_intrinsic": -2.6e-4,
    # Lead-iodide perovskites widen their gap on heating (tetragonal/cubic phase): +0.3 meV/K for
    # MAPbI3 films [Milot et al., Adv. Funct. Mater. 25, 6218 (2015)]; CsPbI3 nanocrystals blue-shift
    # continuously from 80 K to room temperature [Yi et al., Nanoscale Adv. 2, 4390 (2020)];
    # +0.25 meV/K is taken for the QD inks.
    "CsPbI3_QD": 2.5e-4, "FAPbI3_QD": 2.5e-4, "CsFA_QD": 2.5e-4,
    # Sn-Pb perovskites: same sign, weaker (assumed +0.1 meV/K; no composition-specific value here).
    "SnPb_perovskite": 1.0e-4,
    # PbS QDs: bulk PbS +0.5 meV/K, falling towards 0 for small dots [Olkhovets et al., Phys. Rev. Lett.
    # 81, 3539 (1998)]; +0.1 meV/K for ~1.3 eV dots.
    "PbS_QD": 1.0e-4,
    # detailed-balance limit: a fixed step absorber
    "ideal": 0.0,
}



@dataclass(frozen=True, eq=False)
class YieldResult:
    """Energy yield of one design over the period of an ``HourlyIrradiance``.

    Energies in kWh/m^2 of cell area, efficiencies and losses in %. ``monthly`` is a pandas
    DataFrame (month 1-12: incident_kwh_m2, energy_yield_kwh_m2, ehe_pct); ``hourly`` (when
    requested) one row per hour with light: month, poa_w_m2, temp_cell_c, aoi_deg,
    top_jph_ma_cm2, bottom_jph_ma_cm2, power_w_m2.
    """

    kind: str
    label: str
    energy_yield_kwh_m2: float
    incident_kwh_m2: float
    ehe_pct: float
    stc_pce_pct: float
    loss_low_light_pct: float = float("nan")
    loss_spectral_pct: float = float("nan")
    loss_angle_pct: float = float("nan")
    loss_temperature_pct: float = float("nan")
    temp_cell_mean_c: float = float("nan")
    mismatch_mean_ma_cm2: float = float("nan")
    transmitted_kwh_m2: float = float("nan")
    daylight_klxh: float = float("nan")
    method: str = "binned"
    n_bins: int = 0
    monthly: object = None
    hourly: object = field(default=None, repr=False)

    @property
    def performance_ratio_pct(self) -> float:
        """EHE / STC PCE, %."""
        return self.ehe_pct / self.stc_pce_pct * 100 if self.stc_pce_pct > 0 else float("nan")

    def to_dict(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in YIELD_METRICS}


# --------------------------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _conditions_cached(site, weather_file, mounting, transposition) -> HourlyIrradiance:
    from . import weather as wx

    w = wx.get_weather(site, weather_file)
    return hourly_irradiance(wx.plane_of_array(w, mounting, transposition))


def yield_conditions(site: str | None = None, weather_file=None, mounting=None,
                     transposition: str = "perez") -> HourlyIrradiance:
    """Hourly spectra on the module plane for a site name or weather file (cached per process).

    ``mounting``: a ``tandem.weather.Mounting`` (default fixed, tilt = latitude, facing the equator).
    """
    from . import weather as wx

    mounting = mounting or wx.Mounting()
    wf = None if weather_file is None else str(weather_file)
    return _conditions_cached(site, wf, mounting, transposition)


# --------------------------------------------------------------------------------------------
# Quadrature helpers (pure numpy)
# --------------------------------------------------------------------------------------------
def _angle_coordinate(angle_deg) -> np.ndarray:
    """1 - cos(angle): the variable in which responses are interpolated between angle nodes
    (a response proportional to cos, or to the path length's inverse, is then close to linear)."""
    return 1.0 - np.cos(np.radians(np.asarray(angle_deg, dtype=float)))


def _angle_weights(angles_deg: np.ndarray, nodes_deg: np.ndarray) -> np.ndarray:
    """[P, N] interpolation weights of ``angles_deg`` over the nodes (the last node is 90 deg)."""
    return spectra.interpolation_matrix(_angle_coordinate(angles_deg), _angle_coordinate(nodes_deg))


def _angle_quadrature(nodes_deg: np.ndarray) -> np.ndarray:
    """Weights q [N] with int_0^90 f(t) sin(2t) dt = sum q f(nodes) for f interpolated between the
    nodes as in ``_angle_weights`` (the last node is 90 deg, where f = 0 for a planar stack)."""
    t = np.linspace(0.0, 90.0, 18001)
    hats = _angle_weights(t, nodes_deg)  # [T, N]
    w = np.sin(np.radians(2 * t)) * np.radians(spectra.trapezoid_weights(t))
    return w @ hats


@dataclass(frozen=True, eq=False)
class _Prepared:
    """Design-independent arrays of a conditions object on one optical grid.

    Photocurrent of a subcell with EQE e [W] under hour h: direct[h] @ (kj @ e); the spectra stay
    on their own (coarse) grid, restricted to the columns that reach the optical grid."""

    direct: np.ndarray   # [H, S'] spectral irradiance, W m^-2 nm^-1
    diffuse: np.ndarray  # [H, S']
    kj: np.ndarray       # [S', W] photocurrent kernel (mA/cm^2 per unit EQE)
    kp: np.ndarray       # [S', W] power kernel (W/m^2 per unit transmittance)
    kv: np.ndarray       # [S', W] luminous kernel (klx per unit transmittance)
    jam15: np.ndarray    # [W] AM1.5G photocurrent weights per W/m^2
    angle_interp: np.ndarray  # [H, N+1] hat weights of each hour's AOI over the nodes (+90)
    quad: np.ndarray     # [N+1] diffuse quadrature weights


_PREP_CACHE: dict = {}


def _prepare(cond: HourlyIrradiance, wl: np.ndarray, nodes: np.ndarray) -> _Prepared:
    key = (id(cond), tuple(wl.tolist()), tuple(nodes.tolist()))
    hit = _PREP_CACHE.get(key)
    if hit is not None and hit[0] is cond:
        return hit[1]
    k_j = spectra.spectral_kernel(wl, cond.wavelengths_nm, "photocurrent")
    k_p = spectra.spectral_kernel(wl, cond.wavelengths_nm, "power")
    used = np.flatnonzero(np.any(k_p != 0, axis=1))
    k_j, k_p = k_j[used], k_p[used]
    k_v = k_p * _photopic(wl)[None, :] * 683.0 / 1000.0  # klx per W/m^2 of light at each wavelength
    all_nodes = np.append(nodes, 90.0)
    prep = _Prepared(
        direct=np.ascontiguousarray(np.asarray(cond.direct)[:, used]),
        diffuse=np.ascontiguousarray(np.asarray(cond.diffuse)[:, used]), kj=k_j, kp=k_p, kv=k_v,
        jam15=spectra.jsc_weights(wl, "AM1.5G") / (10.0 * spectra.incident_power_mw_cm2("AM1.5G")),
        angle_interp=_angle_weights(np.asarray(cond.aoi_deg, float), all_nodes),
        quad=_angle_quadrature(all_nodes),
    )
    if len(_PREP_CACHE) > 16:
        _PREP_CACHE.clear()
    _PREP_CACHE[key] = (cond, prep)
    return prep


def _hourly_response(prep: _Prepared, kernel: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """[H, R]: response of each hour to spectral responses ``rows`` [R, N+1, W] given at the angle
    nodes: direct light at the hour's angle of incidence plus hemispherical diffuse light."""
    r, n, w = rows.shape
    x = rows.reshape(r * n, w) @ kernel.T                     # [R*(N+1), S']
    dirn = (prep.direct @ x.T).reshape(-1, r, n)              # [H, R, N+1]
    j_dir = np.einsum("hrn,hn->hr", dirn, prep.angle_interp)
    x_dif = np.einsum("n,rns->rs", prep.quad, x.reshape(r, n, -1))  # [R, S']
    return j_dir + prep.diffuse @ x_dif.T


@lru_cache(maxsize=64)
def _photopic_cached(wl_key: tuple) -> np.ndarray:
    import colour

    v = colour.colorimetry.SDS_LEFS_PHOTOPIC["CIE 1924 Photopic Standard Observer"]
    out = np.interp(np.asarray(wl_key), v.wavelengths, v.values, left=0.0, right=0.0)
    out.setflags(write=False)
    return out


def _photopic(wl: np.ndarray) -> np.ndarray:
    return _photopic_cached(tuple(wl.tolist()))


# --------------------------------------------------------------------------------------------
# Temperature
# --------------------------------------------------------------------------------------------
def _edge_derivative(eqe0: np.ndarray, wl: np.ndarray) -> np.ndarray:
    """-dEQE/dE (per eV) [.., W] restricted to within 100 nm below the subcell's own edge (the last
    wavelength where the normal-incidence EQE reaches half its maximum) and beyond."""
    e = HC_EV_NM / wl
    deqe_de = np.gradient(eqe0, e, axis=-1)
    half = eqe0 >= 0.5 * np.max(eqe0, axis=-1, keepdims=True)
    last = wl.size - 1 - np.argmax(half[..., ::-1], axis=-1)
    edge_nm = wl[last]
    mask = wl[None, :] >= (np.atleast_1d(edge_nm)[:, None] - 100.0)
    return -deqe_de * mask.reshape(deqe_de.shape)


_BB_CACHE: dict = {}


def _blackbody_weights(wl: np.ndarray, temps_c: np.ndarray) -> np.ndarray:
    """[T, W] reciprocity weights (J0,rad = EQE @ w) at each temperature (deg C), cached per grid."""
    key = (tuple(wl.tolist()), tuple(np.round(temps_c, 9).tolist()))
    hit = _BB_CACHE.get(key)
    if hit is None:
        hit = np.stack([el.reciprocity_weights(wl, float(t) + 273.15) for t in temps_c])
        if len(_BB_CACHE) > 64:
            _BB_CACHE.clear()
        _BB_CACHE[key] = hit
    return hit


def _j0_rad_table(eqe0: np.ndarray, deriv0: np.ndarray, wl: np.ndarray, tc: float,
                  temps_c: np.ndarray) -> np.ndarray:
    """ln J0,rad (mA/cm^2) of one subcell at each temperature (deg C) of ``temps_c``, the EQE edge
    shifted by the band gap's temperature coefficient ``tc`` (eV/K): EQE(E - dEg) ~ EQE + dEg deriv0
    with deriv0 = -dEQE/dE."""
    e_t = np.clip(eqe0[None, :] + (tc * (temps_c - 25.0))[:, None] * deriv0[None, :], 0.0, 1.0)
    j0 = np.einsum("tw,tw->t", e_t, _blackbody_weights(wl, temps_c))
    return np.log(np.maximum(j0, 1e-300))


# --------------------------------------------------------------------------------------------
# Electrical (per design, vectorised over hours/bins)
# --------------------------------------------------------------------------------------------
#: Temperature step of the J0,rad table (ln J0 interpolated linearly in between), K.
_J0_DT = 2.5


def _solve_bins(jobs) -> list[np.ndarray]:
    """Power per unit scale of every bin (mW/cm^2 per mA/cm^2) for all jobs in one vectorised call
    per device type. ``jobs``: (design, bins, lnJ0 functions per subcell, "series" | cell index,
    (Transport or None, V_bi) per subcell); the diodes are those of ``evaluate_batch``
    (``evaluation.diode_arrays``, with Jph(V) and the thickness-scaled recombination)."""
    out: list = [None] * len(jobs)
    for mode in ("single", "series"):
        sel = [k for k, job in enumerate(jobs) if (job[3] == "series") == (mode == "series") and job[1].n]
        if not sel:
            continue
        designs = [jobs[k][0] for k in sel]
        sizes = [jobs[k][1].n for k in sel]
        idx = np.repeat(np.arange(len(sel)), sizes)
        tm = np.concatenate([jobs[k][1].temp_c for k in sel])
        scale = np.concatenate([jobs[k][1].scale for k in sel])
        roles = (0, 1) if mode == "series" else (None,)
        diodes = []
        nk = VOLTAGE_NODES_KT.size
        for r in roles:
            cells, jph, j0, jph_v, vbi, trs = [], [], [], [], [], []
            for k in sel:
                d, b, lnj0, which, coll = jobs[k]
                i = r if r is not None else which
                q = r if r is not None else 0
                cells += [d.subcells[i]] * b.n
                jph.append(b.jph[q])
                j0.append(np.exp(lnj0[i](b.temp_c)))
                rv = b.ratio_v[q] if b.ratio_v else None
                jph_v.append(np.full((b.n, nk), np.nan) if rv is None else b.jph[q][:, None] * rv)
                vbi.append(np.full(b.n, coll[i][1]))
                trs += [coll[i][0]] * b.n
            diodes.append(diode_arrays(designs, cells, np.concatenate(jph), np.concatenate(j0), idx,
                                       temperature_k=tm + 273.15, jph_v=np.concatenate(jph_v),
                                       vbi=np.concatenate(vbi), transports=trs))
        if mode == "series":
            coupling = np.repeat([float(d.luminescent_coupling) for d in designs], sizes)
            mpp = el.series_mpp(diodes[0], diodes[1], coupling)
        else:
            mpp = el.single_mpp(diodes[0])
        eff = mpp.pmax_mw_cm2 / scale
        for k, part in zip(sel, np.split(eff, np.cumsum(sizes)[:-1])):
            out[k] = part
    return [np.zeros(0) if o is None else o for o in out]


# --------------------------------------------------------------------------------------------
# Main entry points
# --------------------------------------------------------------------------------------------
def annual_yield(design: Design, conditions: HourlyIrradiance | None = None, *, losses: bool = True,
                 method: str = "binned", keep_hourly: bool = False,
                 angle_nodes_deg: Sequence[float] = ANGLE_NODES_DEG,
                 bandgap_tc_ev_k: dict[str, float] | None = None) -> YieldResult:
    """Energy yield of one design (see ``annual_yield_batch``)."""
    return annual_yield_batch([design], conditions, losses=losses, method=method, keep_hourly=keep_hourly,
                              angle_nodes_deg=angle_nodes_deg, bandgap_tc_ev_k=bandgap_tc_ev_k)[0]


def annual_yield_batch(designs: Sequence[Design], conditions: HourlyIrradiance | None = None, *,
                       losses: bool = False, method: str = "binned", keep_hourly: bool = False,
                       angle_nodes_deg: Sequence[float] = ANGLE_NODES_DEG,
                       bandgap_tc_ev_k: dict[str, float] | None = None) -> list[YieldResult]:
    """Energy yield of many designs under the same hourly conditions (see the module docstring).

    Parameters
    ----------
    designs : sequence of tandem.Design
        Their ``angle_deg``, ``temperature_k`` and ``spectrum`` are replaced by the hourly
        conditions (STC references use 0 deg, 25 C, AM1.5G).
    conditions : HourlyIrradiance, default ``yield_conditions("greensboro")`` (fixed at latitude tilt).
    losses : also compute the loss cascade (four electrical passes instead of one).
    method : "binned" (default) or "hourly" (every hour solved; for checks).
    keep_hourly : attach the per-hour table (``YieldResult.hourly``).
    angle_nodes_deg : increasing angles in [0, 90) starting at 0 where the optics is solved.
    bandgap_tc_ev_k : dEg/dT (eV/K) per preset name, overriding ``BANDGAP_TC_EV_K``.

    Returns
    -------
    list of YieldResult, one per design.
    """
    designs = list(designs)
    if not designs:
        raise ValueError("annual_yield_batch needs at least one Design")
    for k, d in enumerate(designs):
        if not isinstance(d, Design):
            raise ValueError(f"design {k} is a {type(d).__name__}, expected tandem.Design")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    nodes = np.asarray(angle_nodes_deg, dtype=float)
    if nodes.ndim != 1 or nodes.size < 2 or nodes[0] != 0 or np.any(np.diff(nodes) <= 0) or nodes[-1] >= 90:
        raise ValueError("angle_nodes_deg must increase from 0 and stay below 90 deg")
    tcs = dict(BANDGAP_TC_EV_K)
    tcs.update(bandgap_tc_ev_k or {})
    cond = conditions if conditions is not None else yield_conditions("greensboro")
    if not isinstance(cond, HourlyIrradiance):
        raise ValueError(f"conditions must be a tandem.outdoor_spectra.HourlyIrradiance, got {type(cond).__name__}")

    # optics at the angle nodes: one batched evaluation (STC = the 0 deg node at 25 C, AM1.5G)
    k_n = nodes.size
    reps = [dataclasses.replace(d, angle_deg=float(a), temperature_k=298.15, spectrum="AM1.5G")
            for d in designs for a in nodes]
    ev, spec = evaluate_batch_spectra(reps, with_cri=False, jv_points=2)
    currents = [_design_currents(d, ev.results[i * k_n:(i + 1) * k_n], cond, nodes, tcs, losses,
                                 (spec, range(i * k_n, (i + 1) * k_n)))
                for i, d in enumerate(designs)]
    temp = np.asarray(cond.temp_cell_c, dtype=float)
    power = [dict() for _ in designs]
    n_bins = [0] * len(designs)
    for stage in currents[0]["stages"]:
        per_design = [_jobs(c, stage, temp, method) for c in currents]
        flat = [job for jobs in per_design for job in jobs]
        effs = iter(_solve_bins(flat))
        for i, jobs in enumerate(per_design):
            p = sum(hourly_power(job[1], next(effs)) for job in jobs)
            power[i][stage] = p * 10.0  # mW/cm^2 -> W/m^2
            if stage == "final":
                n_bins[i] = sum(job[1].n for job in jobs)
    return [_finish(c, power[i], n_bins[i], cond, losses, method, keep_hourly) for i, c in enumerate(currents)]


def _design_currents(d: Design, rs, cond: HourlyIrradiance, nodes, tcs, losses, ev_spectra) -> dict:
    """Hourly photocurrents of each subcell for each stage of the loss cascade, ln J0,rad(T) and
    the carrier collection (``_collection``)."""
    wl = np.asarray(rs[0].optics.wavelengths_nm, dtype=float)
    prep = _prepare(cond, wl, nodes)
    temp = np.asarray(cond.temp_cell_c, dtype=float)
    g = np.asarray(cond.poa_global_w_m2, dtype=float)
    cells = list(d.subcells)
    zeros = np.zeros((1, wl.size))

    stages = ("low_light", "spectral", "angle", "final") if losses else ("final",)
    jph = {s: [] for s in stages}
    lnj0 = []
    eqes, derivs = [], []
    for role in ("top", "bottom")[:len(cells)]:
        eqe = np.stack([getattr(r, role).eqe for r in rs])            # [N, W]
        eqes.append(np.concatenate([eqe, zeros]))                    # + 90 deg
        derivs.append(np.concatenate([_edge_derivative(eqe, wl), zeros]))
    resp = _hourly_response(prep, prep.kj, np.stack(eqes + derivs))  # [H, 2 x cells]
    nc = len(cells)
    for i, cell in enumerate(cells):
        eqe0 = eqes[i][0]
        tc = float(tcs.get(cell.preset, 0.0))
        d_eg = tc * (temp - 25.0)                                    # [H] eV
        for s in stages:
            if s == "low_light":
                jph[s].append(g * float(prep.jam15 @ eqe0))
            elif s == "spectral":
                jph[s].append((prep.direct + prep.diffuse) @ (prep.kj @ eqe0))
            elif s == "angle":
                jph[s].append(resp[:, i])
            else:
                jph[s].append(np.maximum(resp[:, i] + d_eg * resp[:, nc + i], 0.0))  # EQE + dEg deriv
        # ln J0,rad on a temperature grid (25 C exactly among the nodes), interpolated per hour
        lo = min(25.0, _J0_DT * math.floor(float(temp.min()) / _J0_DT)) - _J0_DT
        hi = max(25.0, _J0_DT * math.ceil(float(temp.max()) / _J0_DT)) + _J0_DT
        tgrid = np.union1d(np.arange(lo, hi + 1e-9, _J0_DT), [25.0])
        table = _j0_rad_table(eqe0, derivs[i][0], wl, tc, tgrid)
        lnj0.append((lambda tg, tb: (lambda t: np.interp(t, tg, tb)))(tgrid, table))

    coll, ratio = _collection(d, ev_spectra, cond, nodes, stages)
    return {"design": d, "rs": rs, "prep": prep, "stages": stages, "jph": jph, "lnj0": lnj0, "zeros": zeros,
            "collection": coll, "ratio_v": ratio}


def _collection(d: Design, ev_spectra, cond: HourlyIrradiance, nodes, stages):
    """Carrier collection of each subcell as in ``evaluate_batch``: (Transport or None, V_bi) per
    subcell and, per stage, None or [H, K] Jph(V) / Jph(0) per subcell.

    eta_c(z, V) does not depend on the spectrum, so the collected EQE at each junction voltage
    and angle node (``BatchSpectra.eqe_v``, on evaluate_batch's coarse wavelengths) is integrated
    against each hour's direct and diffuse spectra like the EQE itself (the "low_light" stage
    keeps the AM1.5G ratio, the "spectral" stage normal incidence). Collection is evaluated at
    25 C; the hour's temperature enters through kT/q of the voltage nodes and the diode.
    """
    spec, rows = ev_spectra
    rows = list(rows)
    coll, ratio = [], {s: [] for s in stages}
    for r, (role, cell) in enumerate(zip(ROLES, d.subcells)):
        k0 = rows[0]
        coll.append((spec.transports[role][k0], float(np.nan_to_num(spec.vbi[r, k0]))))
        tabs = [spec.eqe_v[role][k] for k in rows]
        if any(t is None for t in tabs) or not spec.jph[r, k0] > 0:
            for s in stages:
                ratio[s].append(None)
            continue
        wl_c = tabs[0][0]
        prep_c = _prepare(cond, wl_c, nodes)
        ev_nodes = np.stack([t[1] for t in tabs], axis=1)                # [K+1, N, C]
        ev_nodes = np.concatenate([ev_nodes, np.zeros((ev_nodes.shape[0], 1, wl_c.size))], axis=1)
        stc = spec.jph_v[r, k0] / spec.jph[r, k0]                        # [K] AM1.5G, 0 deg

        def as_ratio(j):
            with np.errstate(divide="ignore", invalid="ignore"):
                out = j[:, 1:] / j[:, :1]
            return np.where(np.isfinite(out) & (j[:, :1] > 0), out, stc[None, :])

        for s in stages:
            if s == "low_light":
                ratio[s].append(np.broadcast_to(stc, (cond.temp_cell_c.size, stc.size)))
            elif s == "spectral":
                ratio[s].append(as_ratio((prep_c.direct + prep_c.diffuse) @ (prep_c.kj @ ev_nodes[:, 0].T)))
            else:
                ratio[s].append(as_ratio(_hourly_response(prep_c, prep_c.kj, ev_nodes)))
    return coll, ratio


def _jobs(cur: dict, stage: str, temp: np.ndarray, method: str) -> list:
    d = cur["design"]
    t_s = temp if stage == "final" else np.full(temp.size, 25.0)
    j = cur["jph"][stage]
    rv = cur["ratio_v"][stage]
    coll = cur["collection"]
    if d.kind == "2T":
        return [(d, make_bins([j[0], j[1]], t_s, method, rv), cur["lnj0"], "series", coll)]
    return [(d, make_bins([j[i]], t_s, method, [rv[i]]), cur["lnj0"], i, coll) for i in range(len(d.subcells))]


def _finish(cur: dict, power: dict, n_bins: int, cond: HourlyIrradiance, losses, method, keep_hourly) -> YieldResult:
    d, rs, prep, stages, jph, zeros = (cur[k] for k in ("design", "rs", "prep", "stages", "jph", "zeros"))
    cells = list(d.subcells)
    hours = np.asarray(cond.hours, dtype=float)
    temp = np.asarray(cond.temp_cell_c, dtype=float)
    g = np.asarray(cond.poa_global_w_m2, dtype=float)
    incident = float(np.sum(g * hours) / 1000.0)
    stc = float(rs[0].pce_pct)

    e = {s: float(np.sum(power[s] * hours) / 1000.0) for s in stages}
    y = e["final"]
    e_stc = stc / 100.0 * incident
    loss = {}
    if losses and e_stc > 0:
        prev = e_stc
        for s, name in zip(stages, ("loss_low_light_pct", "loss_spectral_pct", "loss_angle_pct",
                                    "loss_temperature_pct")):
            loss[name] = (prev - e[s]) / e_stc * 100.0
            prev = e[s]
    p_final = power["final"]
    month = np.asarray(cond.month, dtype=int)
    m_inc = np.bincount(month - 1, g * hours, minlength=12)[:12] / 1000.0
    m_y = np.bincount(month - 1, p_final * hours, minlength=12)[:12] / 1000.0
    import pandas as pd

    with np.errstate(divide="ignore", invalid="ignore"):
        monthly = pd.DataFrame({"month": np.arange(1, 13), "incident_kwh_m2": m_inc, "energy_yield_kwh_m2": m_y,
                                "ehe_pct": np.where(m_inc > 0, m_y / m_inc * 100, np.nan)})
    weights = p_final * hours
    extra = {}
    if d.kind == "2T":
        mis = jph["final"][0] - jph["final"][1]
        extra["mismatch_mean_ma_cm2"] = float(np.sum(mis * g * hours) / max(np.sum(g * hours), 1e-30))
    if d.kind == "semitransparent":
        tr = np.concatenate([np.stack([r.optics.T for r in rs]), zeros])[None]
        p_t = _hourly_response(prep, prep.kp, tr)[:, 0]
        v_t = _hourly_response(prep, prep.kv, tr)[:, 0]
        extra["transmitted_kwh_m2"] = float(np.sum(p_t * hours) / 1000.0)
        extra["daylight_klxh"] = float(np.sum(v_t * hours))
    hourly = None
    if keep_hourly:
        hourly = pd.DataFrame({
            "month": month, "poa_w_m2": g, "temp_cell_c": temp, "aoi_deg": np.asarray(cond.aoi_deg, float),
            "top_jph_ma_cm2": jph["final"][0],
            "bottom_jph_ma_cm2": jph["final"][1] if len(cells) > 1 else np.full(g.size, np.nan),
            "power_w_m2": p_final,
        })
    return YieldResult(
        kind=d.kind, label=cond.label, energy_yield_kwh_m2=y, incident_kwh_m2=incident,
        ehe_pct=y / incident * 100.0 if incident > 0 else float("nan"), stc_pce_pct=stc,
        temp_cell_mean_c=float(np.sum(temp * weights) / np.sum(weights)) if np.sum(weights) > 0 else float("nan"),
        method=method, n_bins=n_bins, monthly=monthly, hourly=hourly, **loss, **extra,
    )


def stc_conditions() -> HourlyIrradiance:
    """One hour of AM1.5G at normal incidence and 25 C (for consistency checks)."""
    return constant_irradiance("AM1.5G", temp_cell_c=25.0)
