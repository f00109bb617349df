"""Optical steps of a batch evaluation: grouping, the batched optical solve, subcell spectra.

Steps 1-4 of ``tandem.evaluation.evaluate_batch`` (see its module docstring): designs that share
a layer count, coherence pattern, wavelength grid, angle and light-trapping model are solved in
one ``optics.solve_arrays`` call (or ``optics.solve_textured`` for pyramid textures); each
absorber's EQE (with carrier collection, ``tandem.collection``), photocurrent and radiative
J0 follow, and the AVT / colour of semitransparent designs.

Units: wavelengths in nm, currents in mA/cm^2, temperatures in K.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

import optics
from optics.light_trapping import entry_solve, trap_light
from optics.stack import refractive_index

from . import collection as col
from . import electrical as el
from . import transparency as tr
from .device import Design

ROLES = ("top", "bottom")


# --------------------------------------------------------------------------------------------
# 1-2. Grouping and optics
# --------------------------------------------------------------------------------------------
# n + ik of catalogue materials (frozen ``nkdata.Material``: its n,k cannot change, and a
# tunable-gap material at another gap is another object) kept across evaluations, per grid
# (tuple of the wavelengths, nm) and material object; each entry holds the material itself, so
# its id is not reused while cached. Bounded: FIFO over grids and over materials per grid.
_SHARED_NK: dict[tuple, dict[int, tuple]] = {}
_MAX_SHARED_GRIDS = 8
_MAX_SHARED_PER_GRID = 512


def _immutable_material(material) -> bool:
    """A frozen ``nkdata.Material`` (nkdata is not imported for this: without it loaded there are
    none)."""
    mod = sys.modules.get("nkdata.material")
    return mod is not None and isinstance(material, mod.Material)


def _shared_table(wl_key: tuple) -> dict:
    table = _SHARED_NK.get(wl_key)
    if table is None:
        if len(_SHARED_NK) >= _MAX_SHARED_GRIDS:
            _SHARED_NK.pop(next(iter(_SHARED_NK)))
        table = _SHARED_NK[wl_key] = {}
    return table


class IndexCache:
    """n + ik per distinct material object (or number), evaluated once per grid; catalogue
    materials (``nkdata.Material``, immutable) are also kept across instances (bounded)."""

    def __init__(self):
        self._grids: dict[tuple, dict] = {}
        self._keep: list = []

    def get(self, material, wl_key: tuple, wl: np.ndarray, where: str) -> np.ndarray:
        return self.on_grid(wl_key, wl)(material, where)

    def on_grid(self, wl_key: tuple, wl: np.ndarray):
        """``index(material, where)`` on the grid ``wl`` (``wl_key`` = tuple(wl)): the grid's table is
        looked up once (hashing the grid per material costs more than the lookup); ``where`` (for
        error messages) may be a callable that builds it, called on a miss only."""
        table = self._grids.setdefault(wl_key, {})
        keep = self._keep
        shared = _shared_table(wl_key)

        def index(material, where) -> np.ndarray:
            number = isinstance(material, (int, float, complex, np.number))
            key = ("num", complex(material)) if number else id(material)
            hit = table.get(key)
            if hit is None:
                frozen = not number and _immutable_material(material)
                if frozen:
                    old = shared.get(key)
                    if old is not None and old[0] is material:
                        table[key] = old[1]
                        return old[1]
                if not number:
                    keep.append(material)  # keeps id(material) unique while cached
                hit = refractive_index(material, wl, where if isinstance(where, str) else where())
                if frozen:
                    hit = np.array(hit)
                    hit.flags.writeable = False
                    if len(shared) >= _MAX_SHARED_PER_GRID:
                        shared.pop(next(iter(shared)))
                    shared[key] = (material, hit)  # the entry keeps id(material) unique
                table[key] = hit
            return hit

        return index


def group_designs(designs: Sequence[Design]) -> tuple[list[np.ndarray], dict[tuple, list[int]]]:
    """Optical grids of the designs and the groups that share one batched solve.

    Returns
    -------
    grids : list of ndarray [W_k], nm, one per design (``Design.wavelengths()``; designs on one grid share the array)
    groups : dict key -> list of design indices, in input order
    """
    keys = [d.grid_key() for d in designs]
    arrays: dict[tuple, tuple[np.ndarray, tuple]] = {}  # one grid array (and its values) per distinct grid
    groups: dict[tuple, list[int]] = {}
    for k, (d, g) in enumerate(zip(designs, keys)):
        if g not in arrays:
            wl = d.wavelengths()
            arrays[g] = wl, tuple(wl.tolist())
        key = (len(d.stack.layers), d.stack.coherent, arrays[g][1], float(d.angle_deg), d.lt_absorber,
               d.light_trapping, d.light_trapping == "pyramids" and d.texture)
        groups.setdefault(key, []).append(k)
    return [arrays[g][0] for g in keys], groups


@dataclass(frozen=True)
class GroupOptics:
    """Optics of one group of B designs on W wavelengths and L layers.

    R, T : [B, W]; A : [B, L, W] (with light trapping applied); n : complex [B, L, W];
    solved : the planar ``optics.OpticsResult`` (for labels, angle, polarisation, engine).
    textured : the ``optics.redistribution.TexturedResult`` of a "pyramids" group, else None.
    """

    R: np.ndarray
    T: np.ndarray
    A: np.ndarray
    n: np.ndarray
    solved: Any
    textured: Any = None
    d: np.ndarray | None = None


def solve_optics(designs: Sequence[Design], wl: np.ndarray, cache: IndexCache | None = None,
                 parasitic_alpha_per_nm=None) -> GroupOptics:
    """One batched optical solve for designs of one group (see ``group_designs``).

    ``parasitic_alpha_per_nm`` [B, W] (1/nm): absorption in the light-trapping absorber
    that generates no carriers (free-carrier absorption), or None.
    """
    cache = cache or IndexCache()
    index = cache.on_grid(tuple(wl.tolist()), wl)
    first = designs[0]
    n_lay = len(first.stack.layers)
    b = len(designs)
    stacks = [des.stack for des in designs]
    n = np.empty((b, n_lay, wl.size), dtype=complex)
    n0 = np.empty((b, wl.size), dtype=complex)
    nf = np.empty((b, wl.size), dtype=complex)

    def fill(out, media, where):
        # one assignment for a medium shared by the whole group (most layers of a study)
        if all(m is media[0] for m in media):
            out[:] = index(media[0], where)
        else:
            for k, m in enumerate(media):
                out[k] = index(m, where)

    fill(n0, [s.incident for s in stacks], "incident medium")
    fill(nf, [s.exit for s in stacks], "exit medium")
    for i, layer in enumerate(first.stack.layers):
        fill(n[:, i], [s.layers[i].material for s in stacks], lambda i=i, lab=layer.label: f"layer {i} ({lab!r})")
    d = np.array([[layer.thickness_nm for layer in s.layers] for s in stacks], dtype=float).reshape(b, n_lay)
    lt = first.lt_absorber
    # closed-form absorption profiles of the coherent absorbers whose carriers are collected
    want = {c.absorber for des in designs for c in des.subcells
            if c.collection != "ideal" and c.absorber != lt and first.stack.coherent[c.absorber]
            and c.transport_params()[0] is not None}
    if first.light_trapping == "pyramids":
        return _solve_textured(first, n, d, n0, nf, wl, parasitic_alpha_per_nm, want)
    if lt is None:
        # every index came through refractive_index on this grid (checked there), the grid
        # through Design: no second check
        res = optics.solve_arrays(n, d, first.stack.coherent, wl, n0, nf, first.angle_deg,
                                  labels=first.stack.labels, validate=False, profile_layers=sorted(want))
        return GroupOptics(np.array(res.R), np.array(res.T), np.array(res.A), n, res, d=d)
    # light trapping: only the planar layers in front of the absorber are solved (the model
    # replaces the rest), so the profiles of the absorbers there come from that same solve and
    # integrate to the absorptance the model reports; absorbers behind it receive no light
    entry = entry_solve(n, d, first.stack.coherent, wl, n0, lt, first.angle_deg,
                        profile_layers=sorted(a for a in want if a < lt), validate=False)
    R, T, A = trap_light(first.light_trapping, n, d, first.stack.coherent, wl, n0, lt, first.angle_deg,
                         parasitic_alpha_per_nm, entry=entry)
    res = optics.OpticsResult(wl, R, T, A, first.stack.labels, first.angle_deg, entry.polarization, entry.engine,
                              profile_terms=entry.profile_terms)
    return GroupOptics(R, T, A, n, res, d=d)


def _solve_textured(first: Design, n, d, n0, nf, wl, parasitic_alpha_per_nm=None, want=()) -> GroupOptics:
    """Ray optics of pyramid-textured wafers; designs that share the wafer and the two media share
    one batched solve (the ray geometry depends on those indices only). ``parasitic_alpha_per_nm``
    [B, W]: free-carrier absorption in the wafer, as for ``trap_light``. ``want``: collecting
    absorbers whose closed-form profiles the collection model needs (``_facet_profiles``)."""
    from optics.redistribution import solve_textured, wafer_index

    iw = wafer_index(first.stack.coherent)
    b = n.shape[0]
    R = np.empty((b, wl.size))
    T = np.empty((b, wl.size))
    A = np.empty(n.shape)
    key = np.concatenate([n[:, iw].real, n0.real, nf.real, nf.imag], axis=1)
    same: dict[bytes, list[int]] = {}  # rows by their bytes (np.unique(axis=0) costs ~5 ms a call)
    for k, row in enumerate(key):
        same.setdefault(row.tobytes(), []).append(k)
    parts = []
    for rows in same.values():
        rows = np.array(rows)
        r = solve_textured(n[rows], d[rows], first.stack.coherent, wl, n0[rows], nf[rows], first.texture.front,
                           first.texture.rear, first.angle_deg, labels=first.stack.labels,
                           parasitic_alpha_per_nm=None if parasitic_alpha_per_nm is None else
                           np.broadcast_to(parasitic_alpha_per_nm, (b, wl.size))[rows])
        R[rows], T[rows], A[rows] = r.R, r.T, r.A
        parts.append((rows, r))
    front = sorted(a for a in want if a < iw)  # films behind the wafer get no light it can use
    terms = _facet_profiles(first, n, d, n0, wl, iw, A, parts, front) if front else None
    solved = optics.OpticsResult(wl, R, T, A, first.stack.labels, first.angle_deg, "unpolarized", "pyramids",
                                 profile_terms=terms)
    return GroupOptics(R, T, A, n, solved, textured=parts[0][1] if len(parts) == 1 else parts, d=d)


def _facet_profiles(first: Design, n, d, n0, wl, iw, A, parts, layers) -> dict:
    """Closed-form absorption profiles {layer: (alpha_nm, kr_nm, c_f, c_b, c_o) [B, W]} of the
    front ``layers`` of textured designs, for the collection model.

    The facet-averaged profile is a hit-weighted sum of planar TMM profiles over the local angles
    of incidence (``optics.texture_profile``), which no single closed form holds. Its shape is
    taken at each design's most-hit outer-side angle (54.75 deg, 88 % of the hits, on random upright
    pyramids at normal incidence: the first hit) from a planar solve of the front films on a
    semi-infinite wafer, and its amplitude scaled to the layer's textured absorptance, so that the
    profile integrates to it. Against the full hit-weighted profile of a 700 nm QD absorber this
    moves the photon-weighted collection of a steeply graded eta(z) (1 to 0.7 across the film)
    by 7e-5, where uniform generation was 0.06 off.
    """
    from optics.texture import ANGLE_STEP_DEG

    b = n.shape[0]
    coh = first.stack.coherent[:iw]
    out = {a: [np.zeros((b, wl.size)), np.zeros((b, wl.size)), np.zeros((b, wl.size)), np.zeros((b, wl.size)),
               np.zeros((b, wl.size), dtype=complex)] for a in layers}
    for rows, r in parts:
        hits = r.hit_front if r.hit_front.ndim == 3 else r.hit_front[None]  # [D, F, W]
        peak = np.argmax(hits.sum(axis=-1), axis=1)  # per design: its own, whatever the batch
        for k in np.unique(peak):
            sub = rows[peak == k]
            # only where these absorbers absorb more than 1e-7 (elsewhere the profile, so the
            # collected EQE, is 0 instead of a few 1e-8)
            w = np.flatnonzero(np.any(A[np.ix_(sub, layers)] > 1e-7, axis=(0, 1)))
            if not w.size:
                continue
            planar = optics.solve_arrays(n[sub, :iw][..., w], d[sub, :iw], coh, wl[w], n0[sub][:, w], n[sub, iw][:, w],
                                         float(k) * ANGLE_STEP_DEG, validate=False, profile_layers=layers)
            for a in layers:
                alpha, kr, cf, cb, co = (np.asarray(x).reshape(sub.size, w.size) for x in planar.profile_terms[a])
                a_pl = np.asarray(planar.A).reshape(sub.size, -1, w.size)[:, a]
                a_tex = A[sub][:, a][:, w]
                with np.errstate(divide="ignore", invalid="ignore"):
                    # each design by its own absorptance: the same numbers in any batch
                    scale = np.where((a_pl > 1e-12) & (a_tex > 1e-7), a_tex / a_pl, 0.0)
                on = scale > 0
                for q, x in enumerate((alpha * on, kr * on, cf * scale, cb * scale, co * scale)):
                    out[a][q][np.ix_(sub, w)] = x
    return {a: tuple(v) for a, v in out.items()}


# --------------------------------------------------------------------------------------------
# 3-4. Subcell spectra and transparency
# --------------------------------------------------------------------------------------------
@dataclass
class BatchSpectra:
    """Per-design optical outputs of a batch of N designs.

    optics : OpticsResult per design; eqe : {role: [W] array or None per design};
    jph, j0_rad : [2, N] photocurrent and radiative J0 (mA/cm^2) per role (NaN: no subcell);
    avt : [N] %, xy : [N, 2], cri : [N] (NaN unless semitransparent).
    """

    optics: list
    eqe: dict[str, list]
    jph: np.ndarray
    j0_rad: np.ndarray
    avt: np.ndarray
    xy: np.ndarray
    cri: np.ndarray
    eqe_ideal: dict[str, list] | None = None
    jph_ideal: np.ndarray | None = None
    jph_v: np.ndarray | None = None
    vbi: np.ndarray | None = None
    eta_profile: dict[str, list] | None = None
    transports: dict[str, list] | None = None
    eqe_v: dict[str, list] | None = None

    @classmethod
    def empty(cls, nb: int) -> "BatchSpectra":
        return cls([None] * nb, {r: [None] * nb for r in ROLES}, np.full((2, nb), np.nan),
                   np.full((2, nb), np.nan), np.full(nb, np.nan), np.full((nb, 2), np.nan), np.full(nb, np.nan),
                   {r: [None] * nb for r in ROLES}, np.full((2, nb), np.nan),
                   np.full((2, nb, col.VOLTAGE_NODES_KT.size), np.nan), np.full((2, nb), np.nan),
                   {r: [None] * nb for r in ROLES}, {r: [None] * nb for r in ROLES},
                   {r: [None] * nb for r in ROLES})


def subcell_spectra(out: BatchSpectra, group: Sequence[Design], idx: Sequence[int], wl: np.ndarray,
                    go: GroupOptics, positions: Sequence[int] | None = None) -> None:
    """EQE, photocurrent (under each design's spectrum) and J0,rad (at its temperature) per role.

    ``positions``: the caller's index of each design of the batch (for error messages; a chunk of
    a larger batch, ``evaluate_batch(..., processes=N)``), None when the batch is the caller's.
    """
    for role, attr in enumerate(ROLES):
        sel = [j for j, d in enumerate(group) if getattr(d, attr) is not None]
        if not sel:
            continue
        ab = np.array([getattr(group[j], attr).absorber for j in sel])
        dead = ~np.any(go.n[sel, ab].imag > 0, axis=-1)
        if np.any(dead):
            j = sel[int(np.argmax(dead))]
            cell = getattr(group[j], attr)
            lay = group[j].stack.layers[cell.absorber]
            raise ValueError(
                f"design {idx[j] if positions is None else positions[idx[j]]}: {attr} absorber index "
                f"{cell.absorber} names layer "
                f"{lay.label!r}, which does not absorb (k = 0 on the whole grid)"
            )
        iqe = np.array([getattr(group[j], attr).iqe for j in sel])[:, None]
        eqe_ideal = optics.eqe(go.A[sel, ab], iqe)
        eqe, jph_v = subcell_collection(out, group, idx, sel, attr, wl, go, eqe_ideal, iqe)
        specs = [group[j].spectrum for j in sel]
        for sp in set(specs):
            m = np.array([x == sp for x in specs])
            rows = [idx[j] for j, mm in zip(sel, m) if mm]
            out.jph[role, rows] = optics.jsc(eqe[m], wl, spectrum=sp)
            out.jph_ideal[role, rows] = optics.jsc(eqe_ideal[m], wl, spectrum=sp)
            if jph_v is not None:
                out.jph_v[role, rows] = out.jph[role, rows][:, None] * jph_v[m]
        temps = np.array([group[j].temperature_k for j in sel])
        for t in np.unique(temps):
            m = temps == t
            rows = [idx[j] for j, mm in zip(sel, m) if mm]
            out.j0_rad[role, rows] = el.j0_rad_from_eqe(eqe[m], wl, float(t))
        for j, e, ei in zip(sel, eqe, eqe_ideal):
            out.eqe[attr][idx[j]] = e
            out.eqe_ideal[attr][idx[j]] = ei


#: at most this many wavelengths carry the voltage dependence of the photocurrent (its shape
#: changes slowly with the wavelength; its value at V = 0 comes from the full grid)
_COARSE_WAVELENGTHS = 12


def subcell_collection(out: BatchSpectra, group: Sequence[Design], idx: Sequence[int], sel: Sequence[int],
                       attr: str, wl: np.ndarray, go: GroupOptics, eqe_ideal: np.ndarray, iqe: np.ndarray):
    """Collected EQE of the subcells ``attr`` of designs ``sel`` (``tandem.collection``).

    Returns the EQE [S, W] at short circuit and, for thin films, Jph(V) / Jph(0) at the
    junction voltages V_bi - VOLTAGE_NODES_KT kT/q ([S, K], NaN rows for voltage-independent
    collection; None when no subcell depends on the voltage). Fills ``out.vbi``,
    ``out.eta_profile``, ``out.transports`` and ``out.eqe_v`` (thin films: the coarse wavelengths
    [C] (nm) and the collected EQE there at V = 0 and at the K junction voltages [K + 1, C], from
    which the energy yield integrates Jph(V) under other spectra).
    """
    role = ROLES.index(attr)
    cells = [getattr(group[j], attr) for j in sel]
    transports = [group[j].transport(c) for j, c in zip(sel, cells)]
    phys = [p for p, t in enumerate(transports) if t is not None]
    eqe = eqe_ideal.copy()
    if not phys:
        return eqe, None
    ab = np.array([cells[p].absorber for p in phys])
    rows_g = np.array([sel[p] for p in phys])
    terms = getattr(go.solved, "profile_terms", None) or {}
    have = np.array([a in terms for a in ab])
    w = wl.size
    coarse = np.unique(np.linspace(0, w - 1, min(w, _COARSE_WAVELENGTHS)).round().astype(int))
    ratio = np.full((len(sel), col.VOLTAGE_NODES_KT.size), np.nan)
    for with_profile in (True, False):
        m = have if with_profile else ~have
        if not np.any(m):
            continue
        ps = [phys[k] for k in np.flatnonzero(m)]
        rg = rows_g[m]
        a_sel = go.A[rg, ab[m]]
        prof = None
        if with_profile:
            prof = [np.stack([terms[a][q][r] for a, r in zip(ab[m], rg)]) for q in range(5)]
        weights = gaps = None
        if with_profile and col.dd_batch.slow_rows([transports[p] for p in ps], go.d[rg, ab[m]]).any():
            # the drift-diffusion rows of slow films need the spectrum and the gap
            wsp = {sp: optics.jsc_weights(wl, sp) for sp in {group[sel[p]].spectrum for p in ps}}
            weights = np.stack([wsp[group[sel[p]].spectrum] for p in ps])
            gaps = np.array([getattr(group[sel[p]].stack.layers[cells[p].absorber].material, "bandgap_ev", None)
                             for p in ps], dtype=float)
        eqe_c, eqe_v, eta_prof = col.batch_response([transports[p] for p in ps], go.d[rg, ab[m]],
                                                    [group[sel[p]].temperature_k for p in ps], a_sel, prof, coarse,
                                                    weights, gaps)
        eqe[ps] = iqe[ps] * eqe_c
        thin = np.all(np.isfinite(eqe_v), axis=(1, 2))
        specs = np.array([group[sel[p]].spectrum for p in ps])
        for sp in np.unique(specs[thin]):
            k = np.flatnonzero(thin & (specs == sp))
            jc = optics.jsc(eqe_v[k], wl[coarse], spectrum=str(sp))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio[[ps[q] for q in k]] = np.where(jc[:, :1] > 0, jc[:, 1:] / jc[:, :1], np.nan)
        for k, p in enumerate(ps):
            out.eta_profile[attr][idx[sel[p]]] = eta_prof[k]
            if thin[k]:
                out.eqe_v[attr][idx[sel[p]]] = (wl[coarse], iqe[p] * eqe_v[k])
    for p in phys:
        t = transports[p]
        out.transports[attr][idx[sel[p]]] = t
        if t.architecture != "wafer":
            out.vbi[role, idx[sel[p]]] = t.vbi_v
    return eqe, (ratio if np.any(np.isfinite(ratio)) else None)


def transparency(out: BatchSpectra, group: Sequence[Design], idx: Sequence[int], wl: np.ndarray,
                 go: GroupOptics, avt_weighting: str, with_cri: bool) -> None:
    """AVT (%), CIE 1931 xy and (``with_cri``) CRI of the transmitted light of semitransparent designs."""
    semi = [j for j, d in enumerate(group) if d.kind == "semitransparent"]
    if not semi:
        return
    rows = [idx[j] for j in semi]
    out.avt[rows] = tr.avt(go.T[semi], wl, avt_weighting)
    out.xy[rows] = tr.chromaticity(go.T[semi], wl)
    if with_cri:
        out.cri[rows] = tr.colour_rendering_index(go.T[semi], wl)


def batch_optics(designs: Sequence[Design], avt_weighting: str, with_cri: bool,
                 parasitic: dict[int, np.ndarray] | None = None,
                 positions: Sequence[int] | None = None) -> BatchSpectra:
    """Steps 1-4 over the whole batch.

    ``parasitic``: design index -> parasitic absorption coefficient [W] (1/nm) of its
    light-trapping absorber (see ``free_carrier_absorption``); ``positions``: see
    ``subcell_spectra``.
    """
    grids, groups = group_designs(designs)
    cache = IndexCache()
    out = BatchSpectra.empty(len(designs))
    for idx in groups.values():
        group = [designs[k] for k in idx]
        wl = grids[idx[0]]
        par = None
        if parasitic and any(k in parasitic for k in idx):
            par = np.stack([parasitic.get(k, np.zeros(wl.size)) for k in idx])
        go = solve_optics(group, wl, cache, par)
        subcell_spectra(out, group, idx, wl, go, positions)
        transparency(out, group, idx, wl, go, avt_weighting, with_cri)
        res = go.solved
        for j, k in enumerate(idx):
            out.optics[k] = optics.OpticsResult(wl, go.R[j], go.T[j], go.A[j], res.labels, res.angle_deg,
                                                res.polarization, res.engine)
    return out


