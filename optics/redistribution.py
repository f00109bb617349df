"""Textured stacks: thin films on pyramid facets coupled to an incoherent wafer by angular
redistribution matrices (the integrated matrix method of OPTOS, GenPro4 and RayFlare).

A stack with exactly one incoherent layer (the wafer) is cut into a *front* interface (the
coherent films above the wafer, conformal on the front texture) and a *rear* interface (the films
below it, conformal on the rear texture). For each design:

1. the films are solved by our TMM (``optics.tmm.unpolarized_rta``, s and p averaged) on a grid of
   local incidence angles, from the outer side and from the wafer side, giving R, T and the
   absorptance of each film per angle (unpolarised light per facet hit, as RayFlare and GenPro4);
2. the texture's facet-hit trees (``optics.texture``; traced once per geometry and cached) are
   weighted with these coefficients, giving the redistribution matrices of each surface between
   polar-angle bins of the light in the wafer, the light leaving into the outer media, and the hit
   weight of every local angle;
3. the wafer propagates bin b with exp(-alpha W / cos theta_b), alpha = 4 pi k / lambda, and the
   multiple passes are summed exactly by one linear solve per wavelength,

       x = v0 + M_front diag(P) M_rear diag(P) x,

   x the downward flux at the top of the wafer per bin, v0 what the front transmits on first
   incidence. Every outcome is a linear function of the hit weights, so R + T + sum(A) = 1 to
   round-off.

References
----------
Tucher et al., Opt. Express 23, A1720 (2015) (OPTOS); Santbergen et al., Opt. Express 25, A24
(2017) (GenPro4); Pearce, J. Open Source Softw. 6, 3460 (2021) (RayFlare); Baker-Finch & McIntosh,
Prog. Photovolt. 19, 406 (2011) (pyramid ray paths).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import sparse

from . import texture_trees as tt
from .texture import ANGLE_STEP_DEG, N_FINE, Bins, Texture
from .texture_trees import Surface
from .multipass import multiple_passes
from .texture_films import FilmSide, interp_outer, interp_wafer, wafer_grid

#: single-pass wafer transmittance (normal incidence) below which a wavelength is treated as
#: opaque: nothing returns from the rear (the error is below this fraction of the light). On the
#: textured 2T example 1e-6 instead of 1e-12 leaves 81 instead of 97 wavelengths to the passes
#: (the costly part) and moves no layer by more than 2e-3 mA/cm^2
OPAQUE_TRANSMITTANCE = 1e-6
#: designs solved together. Solving several at once amortises the Python overhead but makes every
#: temporary (tree weights [nodes, designs, wavelengths], film solutions) that much larger; on the
#: textured example (2-core machine) one design at a time gave the most designs/s in
#: evaluate_batch (22 vs 18 designs/s with two at a time, interleaved medians of 6 rounds)
DESIGN_CHUNK = 1


@dataclass(frozen=True)
class TextureOptions:
    """Discretisation of the texture model (defaults converged, see tests/test_optics_texture.py).

    n_bins : polar-angle bins of the light in the wafer (uniform in theta over 0-90 deg).
    n_phi : azimuth bins over 0-45 deg (the square symmetry of the pyramids folds the rest).
    rays_incident : rays traced for the first incidence from the outer medium.
    rays_per_bin : rays per bin for light arriving from the wafer.
    n_outer_angles, n_cone_angles, n_tir_angles : TMM angle grid of the films from the outer side
        (uniform in theta), and from the wafer side inside / beyond the escape cone (uniform in
        sin theta, with a node on the critical angle at every wavelength).
    n_cone_angles_opaque, n_tir_angles_opaque : the same from the wafer side where the wafer is
        opaque: light meets the front films from inside only within a pyramid on first
        incidence there (under 2 % of it on random pyramids), so a coarser grid serves.
    index_step, index_step_opaque : relative quantisation of n_wafer / n_outer for the refracted
        directions, where the wafer transmits and where it is opaque.
    seed : ray sampling and random-pyramid supercell (fixed: results are reproducible).
    first_pass_step_deg : direction resolution (polar and azimuth) of the first pass through the
        wafer. Light enters a pyramid texture in a few exact directions (normal incidence on
        54.74 deg facets: 41.3 deg from the normal, in a facet's plane), and whether it leaves
        through the rear on its first hit depends on them to a degree (13.4 deg local angle
        against a 16.4 deg escape cone): spread over a 3 x 15 deg bin, a bare 200 um wafer
        transmitted 0.3 mA/cm^2 too little. The first rear interaction is therefore traced from
        the directions of the first incidence at this resolution; later passes use the bins.
    rays_first_pass : rays for that first rear interaction, shared by the directions (at least
        ``rays_per_bin`` each).
    """

    n_bins: int = 18
    n_phi: int = 3
    rays_incident: int = 400
    rays_per_bin: int = 32
    n_outer_angles: int = 6
    n_cone_angles: int = 8
    n_tir_angles: int = 12
    first_pass_step_deg: float = 0.25
    rays_first_pass: int = 2048
    index_step: float = 0.02
    index_step_opaque: float = 0.10
    seed: int = 1
    n_cone_angles_opaque: int = 4
    n_tir_angles_opaque: int = 4


@dataclass(frozen=True)
class TexturedResult:
    """Optics of textured stacks; arrays [B, ...] for B stacks.

    R : [B, W] all light leaving through the front: ``R_front`` (reflected on first incidence)
        + ``R_escape`` (entered the wafer and escaped).
    T : [B, W] transmitted into the exit medium.
    A : [B, L, W] absorptance per layer in stack order (the wafer at its index).
    hit_front, hit_front_back : [B, F, W]: weight with which the front films are lit from the
        outer side / from the wafer at each local angle of incidence ``fine_angles_deg()`` (in
        the incident medium of that side): the absorption profile of a front film is the sum of
        its TMM profiles at these angles with these weights.
    """

    wavelengths_nm: np.ndarray
    R: np.ndarray
    T: np.ndarray
    A: np.ndarray
    R_front: np.ndarray
    R_escape: np.ndarray
    labels: tuple[str, ...]
    wafer: int
    hit_front: np.ndarray
    hit_front_back: np.ndarray

    @staticmethod
    def fine_angles_deg() -> np.ndarray:
        return np.arange(N_FINE) * ANGLE_STEP_DEG


def _levels(ratio: np.ndarray, opaque: np.ndarray, opts: TextureOptions) -> np.ndarray:
    """Quantised n_wafer / n_outer per wavelength (finer where the wafer transmits)."""
    step = np.where(opaque, opts.index_step_opaque, opts.index_step)
    q = np.rint(np.log(ratio) / np.log1p(step))
    return np.round(np.exp(q * np.log1p(step)), 10)


def _absorbed_per_root(ops, nodes, a_fine, n_roots):
    """Film absorption [Lr, n_roots, Ws] of weighted nodes [N, Ws] of one design, summed per root
    (a_fine [Lr, 2F, Ws] film absorptance per hit at each (side, fine angle))."""
    to_root = sparse.csr_matrix((np.ones(ops.node_row.size), (ops.node_root, np.arange(ops.node_row.size))),
                                shape=(n_roots, ops.node_row.size))
    return np.stack([to_root @ (nodes * a[ops.node_row]) for a in a_fine]) if len(a_fine) else \
        np.zeros((0, n_roots, nodes.shape[-1]))


def _ix(*idx):
    """``np.ix_(*idx)``, or the equivalent slices when every index is a contiguous run (basic
    indexing: a view, and no slow fancy-index path in the in-place updates)."""
    runs = [tt.as_slice(np.asarray(i)) for i in idx]
    if all(isinstance(r, slice) for r in runs):
        return tuple(runs)
    return np.ix_(*idx)


def _matrices(surface, surf_s, levels, clear, lossy, n_d, opts):
    """Redistribution matrix [D, Wc, out, in] of a surface lit from the wafer (a view of a
    [Wc, D, out, in] array: ``multiple_passes`` multiplies all designs at once), what it sends
    into the outer medium [nb, D, Wc], and its weighted trees per index level."""
    nb = opts.n_bins * opts.n_phi
    M = np.empty((clear.size, n_d, nb * nb))  # every clear wavelength has one level: all rows written
    out = np.empty((nb, n_d, clear.size))
    trees = {}
    for lv in np.unique(levels[clear]):
        sel = clear[levels[clear] == lv]
        ops = tt.tree(surface, "bins", 0.0, True, float(lv), lossy, opts)
        nodes, leaves = tt.propagate(ops, surf_s, sel, np.ones((nb, 1, sel.size)))
        pos = np.searchsorted(clear, sel)
        rows = tt.as_slice(pos)
        run = isinstance(rows, slice)  # a run of wavelengths: write in place
        part = M[rows] if run else np.zeros((pos.size, n_d, nb * nb))
        tt.wafer_matrix_into(ops, leaves, part)
        if not run:
            M[pos] = part
        out[:, :, rows] = (ops.leaf_to_outer @ leaves.reshape(leaves.shape[0], -1)).reshape(
            nb, n_d, sel.size)
        trees[float(lv)] = (ops, sel, nodes)
    return np.moveaxis(M.reshape(clear.size, n_d, nb, nb), 0, 1), out, trees


@dataclass(frozen=True)
class _Rear:
    """The rear interface of one set of rear films where the wafer transmits: M [Wc, nb, nb] back
    into the wafer, t [nb, Wc] into the exit medium and g [Lr, nb, Wc] absorbed in each rear film,
    per unit flux arriving in each bin."""

    M: np.ndarray
    t: np.ndarray
    g: np.ndarray
    surf: Surface = None  # fine-angle R, T (outer side, wafer side), for the exact first pass
    a_fine: np.ndarray = None  # [Lr, 2 * N_FINE, Wc] film absorptance per (side, fine angle)
    levels: np.ndarray = None  # index level per wavelength
    first_pass: dict = field(default_factory=dict)  # cached transfers of the first rear interaction
    passes: dict = field(default_factory=dict)  # multiple_passes' cache of this rear


_REARS: dict[bytes, _Rear] = {}
_MAX_REARS = 4


def clear_caches() -> None:
    """Forget the cached trees and rear interfaces (they are rebuilt on demand, identically)."""
    tt.clear()
    _REARS.clear()


def _rear_key(rear, films, d, n_wafer, n_exit, wl, clear, lossy, opts) -> bytes:
    parts = [repr((rear, lossy, opts)).encode()] + [np.ascontiguousarray(a).tobytes()
                                                     for a in (films, d, n_wafer, n_exit, wl, clear)]
    return b"\0".join(parts)


def _rear_interface(key, rear, re_films, re_d, nw, nf, wl, clear, opaque, lossy, opts) -> _Rear:
    """Rear redistribution of one design's rear films ([1, ...] arrays), cached by ``key``."""
    hit = _REARS.get(key)
    if hit is not None:
        return hit
    n_w = wl.size
    nw_r = nw.real + 0j
    s_c_rear = np.clip(nf[0].real / nw_r[0].real, 0.0, 1.0) if not lossy else np.ones(n_w)
    s_wr = wafer_grid(s_c_rear[clear], opts)
    xi_wr = nw_r[0, clear].real[None] * s_wr
    none = np.zeros(0, dtype=np.int64)
    side_rw = FilmSide(nw_r, re_films, re_d, nf, wl, clear, xi_wr, interp_wafer(s_wr, s_c_rear[clear]),
                       none, none, None, flip=False)
    n_lr = re_films.shape[1]
    Rr_fine = np.zeros((2, 1, N_FINE, n_w))
    Tr_fine = np.zeros((2, 1, N_FINE, n_w))
    a_fine = np.zeros((n_lr, 2 * N_FINE, clear.size))  # per (side, fine angle): outer side first
    Rr_fine[1], Tr_fine[1] = side_rw.R, side_rw.T
    if n_lr:
        a_fine[:, N_FINE:] = side_rw.fine_absorptance()[0]
    if not lossy:
        g_or = np.linspace(0.0, 89.5, opts.n_outer_angles)
        xi_or = nf[0, clear].real[None] * np.sin(np.radians(g_or))[:, None]
        side_ro = FilmSide(nf, re_films, re_d, nw, wl, clear, xi_or, interp_outer(g_or),
                           none, none, None, flip=True)
        Rr_fine[0], Tr_fine[0] = side_ro.R, side_ro.T
        if n_lr:
            a_fine[:, :N_FINE] = side_ro.fine_absorptance()[0]
    ratio_r = nw_r[0].real / (nf[0].real if not lossy else np.ones(n_w))
    lev_r = _levels(ratio_r, opaque, opts) if not lossy else np.ones(n_w)
    surf = Surface.from_sides((Rr_fine[0], Tr_fine[0]), (Rr_fine[1], Tr_fine[1]))
    M, t, trees = _matrices(rear, surf, lev_r, clear, lossy, 1, opts)
    nb = opts.n_bins * opts.n_phi
    g = np.zeros((n_lr, nb, clear.size))
    for ops, sel, nodes in trees.values():
        pos = np.searchsorted(clear, sel)
        g[:, :, pos] = _absorbed_per_root(ops, nodes[:, 0], a_fine[:, :, pos], nb)
    out = _Rear(np.ascontiguousarray(M[0]), t[:, 0], g, surf, a_fine, lev_r)
    if len(_REARS) >= _MAX_REARS:
        _REARS.pop(next(iter(_REARS)))
    _REARS[key] = out
    return out


def _first_pass(r: _Rear, fine_ids, rear, level, sel, pos, lossy, opts):
    """Transfers of the first rear interaction per unit flux in each fine direction ``fine_ids``
    at the wavelengths ``sel`` (``pos`` in the clear ones): into the wafer bins [nb, K, Ws], into
    the exit medium [K, Ws] and absorbed in each rear film [Lr, K, Ws]. They depend on the rear
    films and the geometry only, so they are cached with the rear interface ``r``."""
    key = (fine_ids.tobytes(), level, sel.tobytes())
    hit = r.first_pass.get(key)
    if hit is None:
        ch = tt.chained(fine_ids, rear, level, lossy, opts)
        nodes, leaves = tt.propagate(ch, r.surf, sel, np.ones((fine_ids.size, 1, sel.size)))
        to_w, to_o = tt.outcomes(ch, leaves, opts.n_bins * opts.n_phi)
        hit = r.first_pass[key] = (to_w[:, :, 0], to_o[:, 0],
                                   _absorbed_per_root(ch, nodes[:, 0], r.a_fine[:, :, pos], fine_ids.size))
    return hit


# --------------------------------------------------------------------------------------------
# the solver
# --------------------------------------------------------------------------------------------
def wafer_index(coherent: Sequence[bool], labels: Sequence[str] | None = None) -> int:
    """Index of the one incoherent layer (the wafer) a textured stack needs; ValueError otherwise."""
    inc = [i for i, c in enumerate(coherent) if not c]
    if len(inc) != 1:
        found = "no incoherent layer" if not inc else f"{len(inc)} incoherent layers"
        raise ValueError(
            f"texture: a textured stack needs exactly one incoherent (thick) layer, the wafer the pyramids "
            f"are etched into; this stack has {found}"
        )
    return inc[0]


def solve_textured(n_layers, thicknesses_nm, coherent, wavelengths_nm, n_incident=1.0, n_exit=1.0,
                   front: Texture = Texture(), rear: Texture = Texture(), angle_deg: float = 0.0,
                   labels: Sequence[str] | None = None, options: TextureOptions = TextureOptions(),
                   parasitic_alpha_per_nm=None) -> TexturedResult:
    """R, T and absorptance per layer of textured stacks (see the module docstring).

    Parameters
    ----------
    n_layers : complex [L, W] or [B, L, W], n + ik (k >= 0) of every layer.
    thicknesses_nm : [L] or [B, L], nm.
    coherent : [L] bools; exactly one False: the wafer. Films above it are conformal on the
        ``front`` texture, films below it on the ``rear`` texture.
    wavelengths_nm : [W], nm.
    n_incident : lossless incident medium (scalar or [W]); n_exit : exit medium (scalar or [W];
        an absorbing exit medium swallows what it transmits).
    front, rear : ``optics.texture.Texture`` of the two wafer surfaces.
    angle_deg : polar angle of incidence in the incident medium, [0, 90).
    options : ``TextureOptions`` (discretisation).
    parasitic_alpha_per_nm : [W] or [B, W], 1/nm (>= 0), optional: absorption in the wafer that
        generates no carriers (free-carrier absorption, ``tandem.silicon.fca_alpha_cm``). It
        attenuates every pass; the wafer's absorptance is then its band-to-band share.

    Returns
    -------
    TexturedResult; R + T + A.sum(-2) = 1 to round-off, minus the parasitic absorption.
    """
    wl = np.asarray(wavelengths_nm, dtype=float)
    n_layers = np.asarray(n_layers, dtype=complex)
    single = n_layers.ndim == 2
    if single:
        n_layers = n_layers[None]
    n_d, n_l, n_w = n_layers.shape
    d = np.broadcast_to(np.asarray(thicknesses_nm, dtype=float), (n_d, n_l))
    coherent = tuple(bool(c) for c in coherent)
    labels = tuple(labels) if labels is not None else tuple(f"layer {i}" for i in range(n_l))
    iw = wafer_index(coherent, labels)
    theta0 = float(angle_deg)
    if not (0 <= theta0 < 90):
        raise ValueError(f"angle_deg must be in [0, 90) degrees, got {angle_deg}")
    n0 = np.broadcast_to(np.asarray(n_incident, dtype=complex), (n_d, n_w)) if np.ndim(n_incident) < 2 else \
        np.asarray(n_incident, dtype=complex)
    nf = np.broadcast_to(np.asarray(n_exit, dtype=complex), (n_d, n_w)) if np.ndim(n_exit) < 2 else \
        np.asarray(n_exit, dtype=complex)
    if np.any(n0.imag > 0):
        raise ValueError("texture: the incident medium must be lossless (k = 0)")
    nw = n_layers[:, iw]
    nw_r = nw.real + 0j
    # the ray geometry is shared by the batch: every design must have the same bounding indices
    for name, arr in (("wafer", nw.real), ("incident medium", n0.real), ("exit medium", nf)):
        if n_d > 1 and not np.allclose(arr, arr[:1]):
            raise ValueError(f"texture: a batch must share the {name}'s refractive index (only films may differ)")
    opts = options
    a_par = np.zeros((n_d, n_w)) if parasitic_alpha_per_nm is None else \
        np.broadcast_to(np.asarray(parasitic_alpha_per_nm, dtype=float), (n_d, n_w))
    if np.any(a_par < 0):
        raise ValueError("parasitic_alpha_per_nm must be >= 0")
    if n_d > DESIGN_CHUNK:  # bounded temporaries: the node weights are [nodes, designs, wavelengths]
        parts = [solve_textured(n_layers[lo:lo + DESIGN_CHUNK], d[lo:lo + DESIGN_CHUNK], coherent, wl,
                                n0[lo:lo + DESIGN_CHUNK], nf[lo:lo + DESIGN_CHUNK], front, rear, theta0, labels, opts,
                                a_par[lo:lo + DESIGN_CHUNK])
                 for lo in range(0, n_d, DESIGN_CHUNK)]
        cat = lambda name: np.concatenate([getattr(r, name) for r in parts])  # noqa: E731
        return TexturedResult(wl, cat("R"), cat("T"), cat("A"), cat("R_front"), cat("R_escape"), labels, iw,
                              cat("hit_front"), cat("hit_front_back"))
    bins = Bins(opts.n_bins, opts.n_phi)
    nb = bins.n
    cos_b = np.cos(np.radians(bins.centres_deg))
    alpha_bb = 4 * np.pi * nw.imag / wl  # 1/nm, [D, W]
    alpha = alpha_bb + a_par
    t_single = np.exp(-alpha * d[:, iw][:, None])  # normal incidence
    opaque = np.all(t_single < OPAQUE_TRANSMITTANCE, axis=0)
    clear = np.flatnonzero(~opaque)
    # no light comes back from the exit medium when it absorbs, or when a rear film is opaque
    # (single pass < 1e-6 where the wafer transmits: what returns is below 1e-12)
    film_pass = np.exp(-4 * np.pi * n_layers[:, iw + 1:].imag * d[:, iw + 1:, None] / wl)[:, :, ~opaque]
    lossy = bool(np.any(nf.imag > 0)) or bool(np.any(np.all(film_pass < 1e-6, axis=(0, 2))))

    fr_films, fr_d = n_layers[:, :iw], d[:, :iw]
    re_films, re_d = n_layers[:, iw + 1:], d[:, iw + 1:]
    opq = np.flatnonzero(opaque)

    # ---- first incidence: its trees (geometry, cached) fix the local angles to solve ------------
    ratio_f = nw_r[0].real / n0[0].real
    lev_f = _levels(ratio_f, opaque, opts)
    lv_f = np.unique(lev_f)
    forest, parts = tt.incident_forest(front, theta0, lv_f, opts)
    first = {float(lv): ops for lv, ops in zip(lv_f, parts)}
    used = forest.cache.get("used")  # fine angles the first incidence meets, per side (geometry only)
    if used is None:
        used = forest.cache["used"] = [np.unique(np.concatenate([ops.tree.angle[ops.tree.wafer_side == side]
                                                                 for ops in first.values()])) for side in (False, True)]

    # ---- front films: outer side (incidence from air) and wafer side -----------------------
    fine_deg = np.arange(N_FINE) * ANGLE_STEP_DEG
    g_o = np.unique(np.concatenate([np.linspace(0.0, 89.5, opts.n_outer_angles), fine_deg[used[0]]]))
    g_o = g_o[g_o <= 89.5]
    xi_o = n0[0].real[None] * np.sin(np.radians(g_o))[:, None]
    xi_ou = n0[0, opq].real[None] * np.sin(np.radians(fine_deg[used[0]]))[:, None]
    side_fo = FilmSide(n0, fr_films, fr_d, nw, wl, clear, xi_o[:, clear], interp_outer(g_o),
                    opq, used[0], xi_ou, flip=False, solve=False)  # into the absorbing wafer
    s_c_front = np.clip(n0[0].real / nw_r[0].real, 0.0, 1.0)
    # from inside the wafer: a plane wave needs a lossless incident medium; its k only matters
    # where the wafer transmits, where k is small (its bulk loss is in the propagation matrix).
    # Interpolation grids serve every wavelength: where the wafer is opaque, light meets the
    # front films from inside only within a pyramid, at tens of distinct angles (46 on random
    # pyramids) but with little weight, so a coarser grid serves there
    none = np.zeros(0, dtype=np.int64)
    sides_fw = []
    for cols, n_cone, n_tir in ((clear, opts.n_cone_angles, opts.n_tir_angles),
                                (opq, opts.n_cone_angles_opaque, opts.n_tir_angles_opaque)):
        if cols.size:
            s_w = wafer_grid(s_c_front[cols], opts, n_cone, n_tir)
            sides_fw.append(FilmSide(nw_r, fr_films, fr_d, n0, wl, cols, nw_r[0, cols].real[None] * s_w,
                                     interp_wafer(s_w, s_c_front[cols]), none, none, None, flip=True, solve=False))
    FilmSide.solve(side_fo, *sides_fw)  # one TMM call for all
    # the wafer-side sides fill disjoint wavelengths of their (otherwise zero) R and T
    front_s = Surface.from_sides((side_fo.R, side_fo.T), (sum(s.R for s in sides_fw), sum(s.T for s in sides_fw)))

    # all levels in one tree: root l lights the wavelengths of level l (the others get exact zeros)
    root_w = (lev_f[None, :] == lv_f[:, None]).astype(float)[:, None, :]
    nodes, leaves = tt.propagate(forest, front_s, slice(None), root_w)
    to_w, to_o = tt.outcomes(forest, leaves, nb)
    v0 = to_w.sum(axis=1)  # [nb, D, W]
    R_front = to_o.sum(axis=0)
    hits_f = tt.hits(forest, nodes)
    v0_fine = {}  # level -> (flux into the wafer per fine direction [K, D, Ws], wavelengths)
    if forest.leaf_to_fine is not None:
        e_all = (forest.leaf_to_fine @ leaves.reshape(leaves.shape[0], -1)).reshape(-1, n_d, n_w)
        for lv, ops in first.items():
            sel = np.flatnonzero(lev_f == lv)
            if not opaque[sel].all():  # only where light can reach the rear
                v0_fine[lv] = (e_all[np.searchsorted(forest.fine_ids, ops.fine_ids)][:, :, sel], sel)

    A_wafer = np.zeros((n_d, n_w))
    R_escape = np.zeros((n_d, n_w))
    T = np.zeros((n_d, n_w))
    n_lr = re_films.shape[1]
    A_rear = np.zeros((n_d, n_lr, n_w))
    A_wafer[:, opaque] = v0[:, :, opaque].sum(axis=0)

    if clear.size:
        # ---- rear: redistribution matrix, transmission and film absorption per unit flux --------
        # (solved once per distinct set of rear films and cached: studies rarely vary the rear)
        keys = [_rear_key(rear, re_films[i], re_d[i], nw[i], nf[i], wl, clear, lossy, opts) for i in range(n_d)]
        groups: dict[bytes, list[int]] = {}
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
        uniq = {k: _rear_interface(k, rear, re_films[g[0]:g[0] + 1], re_d[g[0]:g[0] + 1], nw[g[0]:g[0] + 1],
                                   nf[g[0]:g[0] + 1], wl, clear, opaque, lossy, opts) for k, g in groups.items()}
        rears = [uniq[k] for k in keys]
        one = len(uniq) == 1
        Mr = rears[0].M[None] if one else np.stack([r.M for r in rears])  # [D or 1, Wc, nb, nb]
        t_r = np.stack([r.t for r in rears])  # [D, nb, Wc]
        g_r = np.stack([r.g for r in rears])  # [D, Lr, nb, Wc]

        Mf, esc_f, trees_f = _matrices(front, front_s, lev_f, clear, False, n_d, opts)
        p = np.exp(-alpha[:, clear, None] * d[:, iw, None, None] / cos_b)  # [D, Wc, nb]
        y1 = 0.0
        if front.traced and rear.traced:
            # first pass in the exact directions of the first incidence (TextureOptions):
            # y1 [D, Wc, nb] leaves the rear upwards, then the bins take over
            y1 = np.zeros((n_d, clear.size, nb))
            for lv, (e, sel_f) in v0_fine.items():
                ids = first[lv].fine_ids
                cos_k = first[lv].cache.get("cos_k")  # of the fine directions (geometry only)
                if cos_k is None:
                    cos_k = first[lv].cache["cos_k"] = np.cos(np.radians(
                        tt.fine_bins(opts).centres_deg[ids]))[:, None, None]
                live = ~opaque[sel_f]
                for k, rows in groups.items():
                    r = uniq[k]
                    lv_sel = r.levels[sel_f]
                    for lv_r in np.unique(lv_sel[live]):
                        m = live & (lv_sel == lv_r)
                        sel = sel_f[m]
                        pos = np.searchsorted(clear, sel)
                        c_w, c_o, c_a = _first_pass(r, ids, rear, float(lv_r), sel, pos, lossy, opts)
                        pk = np.exp(-alpha[rows][:, sel] * d[rows, iw][:, None] / cos_k)  # [K, Dg, Ws]
                        e_g = e[:, rows][:, :, m]
                        A_wafer[_ix(rows, sel)] += ((1 - pk) * e_g).sum(0)
                        r_in = pk * e_g
                        y1[_ix(rows, pos)] = np.einsum("bkw,kdw->dwb", c_w, r_in)
                        T[_ix(rows, sel)] += np.einsum("kw,kdw->dw", c_o, r_in)
                        A_rear[_ix(rows, np.arange(n_lr), sel)] += np.einsum("lkw,kdw->dlw", c_a, r_in)
            v = np.einsum("dwij,dwj->dwi", Mf, p * y1)
        else:
            v = np.moveaxis(v0[:, :, clear], 0, -1)
        x = multiple_passes(Mf, Mr, p, v, cache=rears[0].passes if one else None)  # [D, Wc, nb]
        u_rear = p * x
        y = y1 + np.einsum("...ij,...j->...i", Mr, u_rear)
        u_front = p * y
        A_wafer[:, clear] += ((1 - p) * (x + y)).sum(-1)
        R_escape[:, clear] = np.einsum("bdw,dwb->dw", esc_f, u_front)
        T[:, clear] += np.einsum("dbw,dwb->dw", t_r, u_rear)
        A_rear[:, :, clear] += np.einsum("dlbw,dwb->dlw", g_r, u_rear)
        # hit weights of the front films with the actual fluxes
        for ops, sel, nodes in trees_f.values():
            pos = np.searchsorted(clear, sel)
            scale = np.moveaxis(u_front[:, pos], -1, 0)[ops.node_root]  # [N, D, Ws]
            hits_f[:, :, :, tt.as_slice(sel)] += tt.hits(ops, nodes * scale)

    # ---- front films from their hit weights ---------------------------------------------------
    A = np.zeros((n_d, n_l, n_w))
    h_o, h_w = np.moveaxis(hits_f[0], 0, 1), np.moveaxis(hits_f[1], 0, 1)
    A[:, :iw] = side_fo.absorb(h_o) + sum(s.absorb(h_w) for s in sides_fw)
    with np.errstate(divide="ignore", invalid="ignore"):
        A[:, iw] = A_wafer * np.where(alpha > 0, alpha_bb / alpha, 1.0)
    A[:, iw + 1:] = A_rear
    R = R_front + R_escape
    res = TexturedResult(wl, R, T, A, R_front, R_escape, labels, iw, h_o, h_w)
    if single:
        res = TexturedResult(wl, R[0], T[0], A[0], R_front[0], R_escape[0], labels, iw, h_o[0], h_w[0])
    return res
