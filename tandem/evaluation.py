"""Evaluation of designs: the steps from a batch of ``tandem.Design`` to ``DeviceResult``s.

``evaluate_batch`` runs, in order:

1. ``group_designs``: designs with the same layer count, coherence pattern, wavelength
   grid, angle and light-trapping layer and model share one batched optical solve;
2. ``solve_optics``: one ``optics.solve_arrays`` call per group (plus the light-trapping
   model of ``optics.light_trapping``), with every distinct material evaluated once per grid;
3. ``subcell_spectra``: EQE = IQE x absorptance of each absorber, its photocurrent under
   the design's spectrum and its radiative J0 at the design's temperature (Rau reciprocity);
4. ``transparency``: AVT, CIE xy and CRI of the semitransparent designs;
5. ``subcell_electrics``: each subcell's diode (``tandem.electrical``) at its own MPP,
   vectorised over the batch per role (top / bottom); for textured Si wafers with the
   "si_intrinsic" model, ``free_carrier_absorption`` of the MPP carriers and steps 2-5 once
   more with it;
6. ``connect``: the device operating point: 2T series MPP (with luminescent coupling),
   4T sum of the subcell MPPs, single junctions as they are;
7. ``assemble``: one ``DeviceResult`` per design and the ``BatchResult`` frame.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np

from optics.redistribution import wafer_index
from optics.spectra import incident_power_mw_cm2

from . import collection as col
from . import electrical as el
from . import parallel
from . import silicon
from . import transparency as tr
from .device import BatchResult, Design, DeviceResult, Subcell, SubcellResult
from .presets import get_preset
from .batch_optics import (  # noqa: F401  (steps 1-4, re-exported)
    ROLES, BatchSpectra, GroupOptics, IndexCache, batch_optics, group_designs, solve_optics, subcell_collection,
    subcell_spectra, transparency,
)

__all__ = ["evaluate", "evaluate_batch", "evaluate_batch_spectra", "group_designs", "solve_optics", "subcell_spectra", "transparency",
           "subcell_electrics", "free_carrier_absorption", "connect", "assemble"]



# --------------------------------------------------------------------------------------------
# 5-6. Electrics
# --------------------------------------------------------------------------------------------
def diode_arrays(designs: Sequence[Design], cells: Sequence[Subcell], jsc, j0r, idx,
                 temperature_k=None, jph_v=None, vbi=None, transports=None) -> el.DiodeArrays:
    """DiodeArrays of subcells ``cells`` (one per design in ``idx``) at each design's temperature,
    or at ``temperature_k`` [len(idx)] (K) when given (energy yield: one row per hour).

    ``jph_v`` [M, K] / ``vbi`` [M]: voltage-dependent photocurrent (``tandem.collection``);
    ``transports`` [M] (Transport or None): the preset's non-radiative recombination (ERE or
    J0,nr, which hold at the transport's reference thickness) scales with the absorber
    thickness by ``collection.recombination_scale``; an ERE given on the Subcell is kept.
    """
    memo: dict[int, tuple] = {}   # energy yield passes one cell per hour: resolve each cell once
    for c in cells:
        if id(c) not in memo:
            memo[id(c)] = (c.parameters, get_preset(c.preset))
    params = [memo[id(c)][0] for c in cells]
    pre = [memo[id(c)][1] for c in cells]
    aug = [designs[i].stack.layers[c.absorber].thickness_nm if p.recombination == "si_intrinsic" else 0.0
           for i, c, p in zip(idx, cells, pre)]
    ere = [1.0 if p.recombination == "si_intrinsic" and c.ere is None else q["ere"]
           for c, p, q in zip(cells, pre, params)]
    j0nr = [p.j0_nonrad_ma_cm2 if (p.j0_nonrad_ma_cm2 is not None and c.ere is None) else np.nan
            for c, p in zip(cells, pre)]
    ere, j0nr = np.array(ere, dtype=float), np.array(j0nr, dtype=float)
    if transports is not None:
        rows = [m for m, (c, p, t) in enumerate(zip(cells, pre, transports))
                if t is not None and c.ere is None and p.recombination != "si_intrinsic"]
        if rows:  # one vectorised call for every scaled subcell
            ts = [transports[m] for m in rows]
            scale = col.recombination_scale(
                np.array([designs[idx[m]].stack.layers[cells[m].absorber].thickness_nm for m in rows], dtype=float),
                *(np.array([getattr(t, k) for t in ts], dtype=float) * f for k, f in (
                    ("reference_nm", 1.0), ("lifetime_e_ns", 1e-9), ("lifetime_h_ns", 1e-9), ("s_front_cm_s", 1.0),
                    ("s_back_cm_s", 1.0))))
            rows = np.array(rows)
            fixed = np.isfinite(j0nr[rows])
            j0nr[rows[fixed]] *= scale[fixed]
            e = ere[rows[~fixed]]
            ere[rows[~fixed]] = 1.0 / (1.0 + (1.0 / e - 1.0) * scale[~fixed])
    return el.diode_from_currents(
        jsc, j0r,
        temperature_k=(np.array([designs[i].temperature_k for i in idx]) if temperature_k is None
                       else np.asarray(temperature_k, dtype=float)),
        ere=ere,
        ideality=np.array([q["ideality"] for q in params]),
        rs_ohm_cm2=np.array([q["rs_ohm_cm2"] for q in params]),
        rsh_ohm_cm2=np.array([q["rsh_ohm_cm2"] for q in params]),
        auger_thickness_nm=np.array(aug),
        si_doping_cm3=np.array([c.si_doping_cm3 for c in cells]),
        j0_nonrad_ma_cm2=j0nr,
        batch=len(idx), jph_v=jph_v, vbi=vbi,
    )


@dataclass(frozen=True)
class RoleElectrics:
    """Subcells of one role for the designs ``idx`` [M]: diodes, own MPP, PCE [M] (%), J-V [M, N]."""

    idx: np.ndarray
    diodes: el.DiodeArrays
    mpp: el.MPPResult
    pce_pct: np.ndarray
    jv: tuple[np.ndarray, np.ndarray]
    #: bottom role of a batch of 2T tandems only: the tandems' MPP [M], solved with the subcells'
    series: el.MPPResult | None = None

    def position(self) -> dict[int, int]:
        """Design index -> row in these arrays."""
        return {int(k): p for p, k in enumerate(self.idx)}


def _role_diodes(designs: Sequence[Design], spectra: BatchSpectra, role: str):
    """(design indices [M], DiodeArrays [M]) of the subcells ``role``, or None when no design has one."""
    r = ROLES.index(role)
    idx = np.array([k for k, d in enumerate(designs) if getattr(d, role) is not None], dtype=int)
    if not idx.size:
        return None
    cells = [getattr(designs[k], role) for k in idx]
    diodes = diode_arrays(designs, cells, spectra.jph[r, idx], spectra.j0_rad[r, idx], idx,
                          jph_v=spectra.jph_v[r, idx], vbi=np.nan_to_num(spectra.vbi[r, idx]),
                          transports=[spectra.transports[role][k] for k in idx])
    return idx, diodes


def _own_mpp(idx: np.ndarray, diodes: el.DiodeArrays, p_in: np.ndarray, jv_points: int) -> RoleElectrics:
    mpp = el.single_mpp(diodes)
    jv = el.jv_curve(diodes, mpp.jsc_ma_cm2, jv_points)
    return RoleElectrics(idx, diodes, mpp, mpp.pmax_mw_cm2 / p_in[idx] * 100, jv)


def subcell_electrics(designs: Sequence[Design], spectra: BatchSpectra, role: str, p_in: np.ndarray,
                      jv_points: int) -> RoleElectrics | None:
    """Each subcell of ``role`` at its own MPP (None when no design has that subcell)."""
    built = _role_diodes(designs, spectra, role)
    return None if built is None else _own_mpp(*built, p_in, jv_points)


def role_electrics(designs: Sequence[Design], spectra: BatchSpectra, p_in: np.ndarray,
                   jv_points: int) -> tuple[RoleElectrics, RoleElectrics | None]:
    """``subcell_electrics`` of the top and the bottom role. Both roles share each vectorised MPP
    and J-V solve (row by row the same numbers), unless a subcell has Auger recombination, whose
    Newton loop runs until the slowest row of the solve has converged."""
    top = _role_diodes(designs, spectra, "top")
    bottom = _role_diodes(designs, spectra, "bottom")
    if bottom is None or any(np.any(d.auger_w_cm > 0) for _, d in (top, bottom)):
        return _own_mpp(*top, p_in, jv_points), None if bottom is None else _own_mpp(*bottom, p_in, jv_points)
    both = el.DiodeArrays.concat([top[1], bottom[1]])
    series = None
    if top[1].size == bottom[1].size == len(designs) and all(
            d.kind == "2T" and not d.luminescent_coupling for d in designs):
        # a batch of 2T tandems: the subcells' and the tandems' MPP searches share their solves
        lock = el.single_and_series_mpp(top[1], bottom[1])
        if lock is not None:
            mpp, series = lock
    if series is None:
        mpp = el.single_mpp(both)
    jv = el.jv_curve(both, mpp.jsc_ma_cm2, jv_points)
    out, n_top = [], top[1].size
    for (idx, diodes), sl in ((top, slice(0, n_top)), (bottom, slice(n_top, None))):
        m = mpp.rows(sl)
        out.append(RoleElectrics(idx, diodes, m, m.pmax_mw_cm2 / p_in[idx] * 100, (jv[0][sl], jv[1][sl])))
    out[1] = dataclasses.replace(out[1], series=series)
    return out[0], out[1]


@dataclass
class DeviceOperation:
    """Device operating point of N designs: PCE (%), Voc (V), Jsc (mA/cm^2), FF (%), Vmpp (V),
    Jmpp (mA/cm^2), Pmax (mW/cm^2), the subcell voltages there v_op [2, N] (V) and the device
    J-V curves of 2T designs (design index -> (V [N], J [N]))."""

    pce: np.ndarray
    voc: np.ndarray
    jsc: np.ndarray
    ff: np.ndarray
    vmpp: np.ndarray
    jmpp: np.ndarray
    pmax: np.ndarray
    v_op: np.ndarray
    jv: dict


def connect(designs: Sequence[Design], top: RoleElectrics, bottom: RoleElectrics | None, p_in: np.ndarray,
            jv_points: int) -> DeviceOperation:
    """Connect the subcells: single junctions as they are, 4T side by side, 2T in series."""
    m = top.mpp
    op = DeviceOperation(top.pce_pct.copy(), m.voc_v.copy(), m.jsc_ma_cm2.copy(), m.ff_pct.copy(),
                         m.vmpp_v.copy(), m.jmpp_ma_cm2.copy(), m.pmax_mw_cm2.copy(),
                         np.full((2, len(designs)), np.nan), {})
    op.v_op[0] = m.vmpp_v
    if bottom is None:
        return op
    bidx = bottom.idx
    op.v_op[1, bidx] = bottom.mpp.vmpp_v
    four = np.array([designs[k].kind == "4T" for k in bidx])
    if np.any(four):
        k4 = bidx[four]
        op.pce[k4] = top.pce_pct[k4] + bottom.pce_pct[four]
        op.voc[k4] = op.jsc[k4] = op.ff[k4] = op.vmpp[k4] = op.jmpp[k4] = np.nan
        op.pmax[k4] = m.pmax_mw_cm2[k4] + bottom.mpp.pmax_mw_cm2[four]
    if np.any(~four):
        k2 = bidx[~four]
        t2, b2 = top.diodes.take(k2), bottom.diodes.take(np.flatnonzero(~four))
        lc = np.array([designs[k].luminescent_coupling for k in k2])
        m2 = bottom.series if bottom.series is not None else el.series_mpp(t2, b2, lc)
        op.pce[k2] = m2.pmax_mw_cm2 / p_in[k2] * 100
        op.voc[k2], op.jsc[k2], op.ff[k2] = m2.voc_v, m2.jsc_ma_cm2, m2.ff_pct
        op.vmpp[k2], op.jmpp[k2], op.pmax[k2] = m2.vmpp_v, m2.jmpp_ma_cm2, m2.pmax_mw_cm2
        vt_op, vb_op = el.series_operating_voltages(t2, b2, m2.jmpp_ma_cm2, lc)
        op.v_op[0, k2] = np.where(m2.jmpp_ma_cm2 > 0, vt_op, 0.0)
        op.v_op[1, k2] = np.where(m2.jmpp_ma_cm2 > 0, vb_op, 0.0)
        v2, j2 = el.series_jv_curve(t2, b2, m2.jsc_ma_cm2, lc, jv_points)
        for p, k in enumerate(k2):
            op.jv[int(k)] = (v2[p], j2[p])
    return op


def free_carrier_absorption(designs: Sequence[Design], top: RoleElectrics,
                            bottom: RoleElectrics | None) -> dict[int, np.ndarray]:
    """Free-carrier absorption of Si wafers at their maximum power point, for the optics.

    For every design whose light-trapping absorber (the wafer, for "pyramids") is a subcell with
    the "si_intrinsic" recombination model: the excess carrier density at the subcell's own MPP
    (``tandem.silicon.injection``, with band-gap narrowing) plus the equilibrium densities
    give alpha_FCA (``tandem.silicon.fca_alpha_cm``), returned in 1/nm on the design's grid.
    """
    out: dict[int, np.ndarray] = {}
    for role, e in (("top", top), ("bottom", bottom)):
        if e is None:
            continue
        for p, k in enumerate(e.idx):
            d = designs[k]
            cell = getattr(d, role)
            # the light-trapped absorber: Lambertian / Tiedje models, or the ray-traced pyramid wafer
            trapped = wafer_index(d.stack.coherent) if d.light_trapping == "pyramids" else d.lt_absorber
            if trapped != cell.absorber or get_preset(cell.preset).recombination != "si_intrinsic":
                continue
            dio = e.diodes
            vj = e.mpp.vmpp_v[p] + e.mpp.jmpp_ma_cm2[p] * 1e-3 * dio.rs[p]
            dn, _ = silicon.injection(vj, dio.ni[p], dio.n0[p], dio.p0[p], dio.vt[p], bgn=bool(dio.bgn[p]))
            alpha_cm = silicon.fca_alpha_cm(d.wavelengths(), dio.n0[p] + dn, dio.p0[p] + dn)
            out[int(k)] = alpha_cm * 1e-7  # 1/cm -> 1/nm
    return out


# --------------------------------------------------------------------------------------------
# 7. Assembly
# --------------------------------------------------------------------------------------------
def _subcell_result(e: RoleElectrics, p: int, k: int, r: int, spectra: BatchSpectra, voc_rad: np.ndarray,
                    v_op: np.ndarray, ff_pct: np.ndarray) -> SubcellResult:
    m = e.mpp
    prof = spectra.eta_profile[ROLES[r]][k]
    return SubcellResult(
        jsc_ma_cm2=float(m.jsc_ma_cm2[p]), voc_v=float(m.voc_v[p]), ff_pct=float(ff_pct[p]),
        pce_pct=float(e.pce_pct[p]), vmpp_v=float(m.vmpp_v[p]), jmpp_ma_cm2=float(m.jmpp_ma_cm2[p]),
        j0_rad=float(spectra.j0_rad[r, k]), eqe=spectra.eqe[ROLES[r]][k], jv=(e.jv[0][p], e.jv[1][p]),
        jph_ma_cm2=float(spectra.jph[r, k]), voc_rad_v=float(voc_rad[p]), ere=float(e.diodes.ere[p]),
        v_operating_v=float(v_op[r, k]), eqe_ideal=spectra.eqe_ideal[ROLES[r]][k],
        jph_ideal_ma_cm2=float(spectra.jph_ideal[r, k]),
        collection_pct=None if prof is None else 100.0 * prof,
        z_rel=None if prof is None else col.PROFILE_POINTS,
    )


def assemble(designs: Sequence[Design], spectra: BatchSpectra, top: RoleElectrics, bottom: RoleElectrics | None,
             op: DeviceOperation) -> BatchResult:
    """One ``DeviceResult`` per design (the batch DataFrame is built on first use)."""
    nan = float("nan")
    s = spectra
    lue = np.where(np.isfinite(s.avt), tr.lue(op.pce, s.avt), np.nan)
    temps = np.array([d.temperature_k for d in designs])
    vrad = {0: el.voc_rad(s.jph[0, top.idx], s.j0_rad[0, top.idx], temps[top.idx])}
    pos = {0: top.position()}
    ff = {0: top.mpp.ff_pct}  # a property: computed once per role, not once per design
    if bottom is not None:
        vrad[1] = el.voc_rad(s.jph[1, bottom.idx], s.j0_rad[1, bottom.idx], temps[bottom.idx])
        pos[1] = bottom.position()
        ff[1] = bottom.mpp.ff_pct
    results = []
    for k, d in enumerate(designs):
        top_r = _subcell_result(top, pos[0][k], k, 0, s, vrad[0], op.v_op, ff[0])
        bot_r, mismatch, limiting = None, nan, None
        if d.bottom is not None:
            bot_r = _subcell_result(bottom, pos[1][k], k, 1, s, vrad[1], op.v_op, ff[1])
            mismatch = float(s.jph[0, k] - s.jph[1, k])
            limiting = "top" if mismatch < 0 else "bottom"
        has_avt = np.isfinite(s.avt[k])
        results.append(DeviceResult(
            kind=d.kind, pce_pct=float(op.pce[k]), top=top_r, bottom=bot_r, mismatch_ma_cm2=mismatch,
            limiting=limiting, avt_pct=float(s.avt[k]), lue_pct=float(lue[k]),
            cie_xy=(float(s.xy[k, 0]), float(s.xy[k, 1])) if has_avt else None, cri=float(s.cri[k]),
            optics=s.optics[k], jv=op.jv.get(k, top_r.jv if d.bottom is None else None),
            voc_v=float(op.voc[k]), jsc_ma_cm2=float(op.jsc[k]), ff_pct=float(op.ff[k]),
            vmpp_v=float(op.vmpp[k]), jmpp_ma_cm2=float(op.jmpp[k]), pmax_mw_cm2=float(op.pmax[k]),
        ))
    return BatchResult(tuple(results))


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------
def evaluate(design: Design, with_cri: bool = True, jv_points: int = 101,
             avt_weighting: str = "photon") -> DeviceResult:
    """Evaluate one design; see ``evaluate_batch``.

    Returns
    -------
    DeviceResult
    """
    return evaluate_batch([design], with_cri=with_cri, jv_points=jv_points, avt_weighting=avt_weighting).results[0]


def evaluate_batch(designs: Sequence[Design], with_cri: bool = True, jv_points: int = 101,
                   avt_weighting: str = "photon", processes: int | None = 1) -> BatchResult:
    """Evaluate many designs: batched optics per group of same-shaped stacks, vectorised electrics.

    Parameters
    ----------
    designs : sequence of tandem.Design, length N >= 1
        Designs with the same layer count, coherence pattern, wavelength grid, angle and
        light-trapping layer share one ``optics.solve_arrays`` call; each distinct material
        is evaluated once per grid. The J-V/MPP solvers run once over the whole batch per
        subcell role.
    with_cri : bool, default True
        Compute the colour rendering index of semitransparent designs (~15 ms per spectrum);
        False leaves it NaN.
    jv_points : int, default 101
        Points of the returned J-V curves, short circuit to open circuit.
    avt_weighting : {"photon", "power"}
        AVT weighting: AM1.5G photon flux (Yang et al., Joule 3, 1415 (2019); default) or
        spectral irradiance (luminous transmittance).
    processes : int >= 0 or None, default 1
        Worker processes. 1 (the default) evaluates the whole batch in this process. N > 1
        first evaluates the first design of each group (see ``group_designs``) here, which
        fills the caches (materials on the grid, the traced texture geometry), then forks
        N - 1 children that inherit them and splits the other designs into N contiguous
        chunks, one per child and one evaluated here. 0 or None: one process per CPU this
        process may run on (``os.sched_getaffinity``). The results are the same as with 1:
        the same numbers to ~1e-15 relative (vectorised sums over another batch make the
        only difference) and, when a design fails in a child, the same exception type and
        message (the child's traceback as its ``__cause__``). It falls back to 1 outside
        Linux, inside a daemonic process (the studies batch helper, which already runs next
        to the study's own process; studies keep the default) and when there are fewer than
        ``tandem.parallel.MIN_DESIGNS_PER_PROCESS`` (4) designs per process; a child killed
        meanwhile (e.g. out of memory) raises a RuntimeError. Worth it for designs that cost
        milliseconds each (textured wafers); set OPENBLAS_NUM_THREADS=1 (as ``qdtandem``
        does) so that the processes do not compete for BLAS threads.

    Returns
    -------
    BatchResult
        ``results`` (one DeviceResult per design, in input order) and ``frame`` (a pandas
        DataFrame with ``kind``, ``limiting`` and the ``tandem.vocabulary.DEVICE_METRICS``).
    """
    return evaluate_batch_spectra(designs, with_cri, jv_points, avt_weighting, processes)[0]


def evaluate_batch_spectra(designs: Sequence[Design], with_cri: bool = True, jv_points: int = 101,
                           avt_weighting: str = "photon",
                           processes: int | None = 1) -> tuple[BatchResult, BatchSpectra]:
    """``evaluate_batch`` and the ``BatchSpectra`` behind it (EQE at short circuit and at the
    junction-voltage nodes, transports, V_bi): the energy yield builds its diodes from them.
    ``processes`` as for ``evaluate_batch``; the spectra of the chunks are stitched along the
    design axis, in input order."""
    designs = list(designs)
    if avt_weighting not in ("photon", "power"):
        raise ValueError(f"avt_weighting must be 'photon' or 'power', got {avt_weighting!r}")
    if not designs:
        raise ValueError("evaluate_batch needs at least one Design")
    for k, d in enumerate(designs):
        if not isinstance(d, Design):
            raise ValueError(f"design {k} is a {type(d).__name__}, expected tandem.Design")
    nproc = parallel.resolve_processes(processes)
    if nproc > 1 and parallel.can_fork():
        # one design per group first, here: the children inherit what it cached
        warm = sorted(idx[0] for idx in group_designs(designs)[1].values())
        rest = sorted(set(range(len(designs))) - set(warm))
        parts = min(nproc, len(rest) // parallel.MIN_DESIGNS_PER_PROCESS)
        if parts >= 2:
            def chunk(positions):
                return _evaluate([designs[k] for k in positions], with_cri, jv_points, avt_weighting, positions)

            done = [(warm, chunk(warm))]
            chunks = parallel.split(rest, parts)
            done += zip(chunks, parallel.run_chunks(chunk, chunks))
            return _stitch(done, len(designs))
    return _evaluate(designs, with_cri, jv_points, avt_weighting)


def _evaluate(designs: list[Design], with_cri: bool, jv_points: int, avt_weighting: str,
              positions: Sequence[int] | None = None) -> tuple[BatchResult, BatchSpectra]:
    """Steps 1-7 over ``designs`` in this process (``positions``: their indices in the caller's
    batch, for error messages)."""
    spectra = batch_optics(designs, avt_weighting, with_cri, positions=positions)
    p_in = np.array([incident_power_mw_cm2(d.spectrum) for d in designs])  # mW/cm^2
    top, bottom = role_electrics(designs, spectra, p_in, jv_points)
    fca = free_carrier_absorption(designs, top, bottom)
    if fca:
        # textured Si wafers: the optics again with the free-carrier absorption of the MPP
        # carriers (it changes the photocurrent by well under 1 %, so one pass is converged)
        spectra = batch_optics(designs, avt_weighting, with_cri, fca, positions)
        top, bottom = role_electrics(designs, spectra, p_in, jv_points)
    op = connect(designs, top, bottom, p_in, jv_points)
    return assemble(designs, spectra, top, bottom, op), spectra


#: the design axis of the array fields of BatchSpectra (lists and {role: list} have it first)
_DESIGN_AXIS = {"jph": 1, "j0_rad": 1, "jph_ideal": 1, "jph_v": 1, "vbi": 1, "avt": 0, "xy": 0, "cri": 0}


def _stitch(parts: Sequence[tuple[Sequence[int], tuple[BatchResult, BatchSpectra]]],
            n: int) -> tuple[BatchResult, BatchSpectra]:
    """One (BatchResult, BatchSpectra) of ``n`` designs from those of chunks (positions, result)."""
    results: list = [None] * n
    out = BatchSpectra.empty(n)
    for positions, (res, spec) in parts:
        pos = np.asarray(positions, dtype=int)
        for p, r in zip(positions, res.results):
            results[p] = r
        for f in fields(BatchSpectra):
            mine, theirs = getattr(out, f.name), getattr(spec, f.name)
            if isinstance(theirs, list):
                for p, v in zip(positions, theirs):
                    mine[p] = v
            elif isinstance(theirs, dict):
                for role, values in theirs.items():
                    for p, v in zip(positions, values):
                        mine[role][p] = v
            elif f.name in _DESIGN_AXIS:
                mine[(slice(None),) * _DESIGN_AXIS[f.name] + (pos,)] = theirs
            else:
                raise TypeError(f"BatchSpectra.{f.name}: no design axis known to stitch chunks of a batch")
    return BatchResult(tuple(results)), out
