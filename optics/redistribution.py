"""Textured stacks: thin films on pyramid facets coupled to an incoherent wafer by angular
redistribution matrices (the integrated matrix method of OPTOS, GenPro4 and RayFlare).

A stack with exactly one incoherent layer (the wafer) is cut into a *front* interface (the
coherent films above the wafer, conformal on the front texture) and a *rear* interface (the films
below it, conformal on the rear texture). For each design:

1. the films are solved by our TMM (``optics.tmm.coherent_solve``, s and p averaged) on a grid of
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

from .texture import ANGLE_STEP_DEG, N_FINE, Bins, Texture, bin_roots, flat_tree, incidence_roots, trace
from .multipass import multiple_passes
from .texture_films import FilmSide, interp_outer, interp_wafer, wafer_grid

#: single-pass wafer transmittance (normal incidence) below which a wavelength is treated as
#: opaque: nothing returns from the rear (the error is below this fraction of the light)
OPAQUE_TRANSMITTANCE = 1e-12
#: designs solved together (bounds the [nodes, designs, wavelengths] temporaries)
DESIGN_CHUNK = 2


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

    n_bins: int = 30
    n_phi: int = 3
    rays_incident: int = 400
    rays_per_bin: int = 32
    n_outer_angles: int = 10
    n_cone_angles: int = 8
    n_tir_angles: int = 12
    first_pass_step_deg: float = 0.25
    rays_first_pass: int = 2048
    index_step: float = 0.02
    index_step_opaque: float = 0.10
    seed: int = 1


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


# --------------------------------------------------------------------------------------------
# tree cache: geometry only, shared by every design and wavelength grid
# --------------------------------------------------------------------------------------------
_TREES: dict[tuple, "_TreeOps"] = {}
_MAX_TREES = 256


@dataclass
class _TreeOps:
    """A tree with the sparse maps that turn its node weights into outcomes."""

    tree: object
    node_root: np.ndarray
    leaf_to_wafer: sparse.csr_matrix  # [n_bins * n_roots, n_leaves]
    leaf_to_outer: sparse.csr_matrix  # [n_roots, n_leaves]
    node_to_angle: sparse.csr_matrix  # [2 * N_FINE, n_nodes] (outer side first)
    used_angles: np.ndarray = field(default=None)
    node_factor: np.ndarray = field(default=None)  # row of the factor table of each node's branch
    leaf_factor: np.ndarray = field(default=None)
    fine_ids: np.ndarray = field(default=None)  # fine direction bins of the wafer leaves (first incidence)
    leaf_to_fine: sparse.csr_matrix = field(default=None)  # [fine_ids, n_leaves]


def _ops(tree, n_bins) -> _TreeOps:
    n = tree.n_nodes
    node_root = np.empty(n, dtype=np.int64)
    for k, sl in enumerate(tree.depth_slices):
        node_root[sl] = tree.root[sl] if k == 0 else node_root[tree.parent[sl]]
    leaf_root = np.where(tree.leaf_parent >= 0, node_root[np.maximum(tree.leaf_parent, 0)], tree.leaf_root)
    nl = tree.leaf_parent.size
    w = tree.leaf_dest_wafer
    to_w = sparse.csr_matrix((np.ones(w.sum()), (tree.leaf_bin[w] * tree.n_roots + leaf_root[w], np.flatnonzero(w))),
                             shape=(n_bins * tree.n_roots, nl))
    to_o = sparse.csr_matrix((np.ones((~w).sum()), (leaf_root[~w], np.flatnonzero(~w))), shape=(tree.n_roots, nl))
    row = tree.wafer_side.astype(np.int64) * N_FINE + tree.angle
    to_a = sparse.csr_matrix((np.ones(n), (row, np.arange(n))), shape=(2 * N_FINE, n))
    two_f = 2 * N_FINE

    def factor_rows(parent, branch):
        p = np.maximum(parent, 0)
        kind = np.where(branch == 1, 1, np.where(tree.tir[p], 2, 0))
        return np.where(parent >= 0, kind * two_f + row[p], 0)

    ops = _TreeOps(tree, node_root, to_w, to_o, to_a, np.unique(row), factor_rows(tree.parent, tree.branch),
                   factor_rows(tree.leaf_parent, tree.leaf_branch))
    if tree.leaf_fine is not None:
        f = tree.leaf_fine >= 0
        ops.fine_ids, k = np.unique(tree.leaf_fine[f], return_inverse=True)
        ops.leaf_to_fine = sparse.csr_matrix((np.ones(f.sum()), (k.ravel(), np.flatnonzero(f))),
                                             shape=(ops.fine_ids.size, nl))
    return ops


def _fine_bins(opts: TextureOptions) -> Bins:
    """The first pass's direction grid, nested in the bins (see ``TextureOptions``)."""
    step = opts.first_pass_step_deg
    return Bins(opts.n_bins * max(1, round(90.0 / opts.n_bins / step)),
                opts.n_phi * max(1, round(45.0 / opts.n_phi / step)))


def _tree(texture: Texture, roots: str, theta_deg: float, from_wafer: bool, level: float, lossy: bool,
          opts: TextureOptions) -> _TreeOps:
    key = (texture, roots, theta_deg, from_wafer, level, lossy, opts.n_bins, opts.n_phi, opts.rays_incident,
           opts.rays_per_bin, opts.seed, opts.first_pass_step_deg)
    hit = _TREES.get(key)
    if hit is not None:
        return hit
    bins = Bins(opts.n_bins, opts.n_phi)
    if roots == "incident":
        root_cos = np.array([np.cos(np.radians(theta_deg))])
        if texture.traced:
            tree = trace(texture, incidence_roots(theta_deg, opts.rays_incident, opts.seed), False, level,
                         lossy, bins, opts.seed, fine=_fine_bins(opts))
        else:
            tree = flat_tree(texture.kind, root_cos, False, level, bins)
    else:
        if texture.traced:
            tree = trace(texture, bin_roots(bins, opts.rays_per_bin, opts.seed), from_wafer, level, lossy, bins,
                         opts.seed)
        else:
            tree = flat_tree(texture.kind, np.cos(np.radians(bins.centres_deg)), True, level, bins,
                             bins.phi_centres_deg)
    if len(_TREES) >= _MAX_TREES:
        _TREES.pop(next(iter(_TREES)))
    ops = _ops(tree, opts.n_bins * opts.n_phi)
    _TREES[key] = ops
    return ops


def _chained(fine_ids: np.ndarray, rear: Texture, level: float, lossy: bool, opts: TextureOptions) -> _TreeOps:
    """Tree of the first rear interaction: one root per fine direction bin ``fine_ids`` of the
    light the first incidence sends into the wafer (cached per geometry like ``_tree``)."""
    key = ("chained", tuple(fine_ids.tolist()), rear, level, lossy, opts)
    hit = _TREES.get(key)
    if hit is None:
        bins = Bins(opts.n_bins, opts.n_phi)
        per = max(opts.rays_per_bin, 2 ** int(np.log2(max(opts.rays_first_pass // max(fine_ids.size, 1), 1))))
        tree = trace(rear, bin_roots(_fine_bins(opts), per, opts.seed, which=fine_ids), True, level,
                     lossy, bins, opts.seed)
        if len(_TREES) >= _MAX_TREES:
            _TREES.pop(next(iter(_TREES)))
        hit = _TREES[key] = _ops(tree, bins.n)
    return hit


def _levels(ratio: np.ndarray, opaque: np.ndarray, opts: TextureOptions) -> np.ndarray:
    """Quantised n_wafer / n_outer per wavelength (finer where the wafer transmits)."""
    step = np.where(opaque, opts.index_step_opaque, opts.index_step)
    q = np.rint(np.log(ratio) / np.log1p(step))
    return np.round(np.exp(q * np.log1p(step)), 10)


@dataclass
class _Surface:
    """Per-batch data of one interface: fine-angle R and T [2, D, F, W] (outer side, wafer side)."""

    R: np.ndarray
    T: np.ndarray


def _propagate(ops: _TreeOps, surf: _Surface, w_sel: np.ndarray, root_w: np.ndarray):
    """Node and leaf weights of a tree at the wavelengths ``w_sel``; root_w [n_roots, D, Ws]."""
    t = ops.tree
    n_d = root_w.shape[1]
    nodes = np.empty((t.n_nodes, n_d, w_sel.size))
    # factor table [3 * 2F, D, Ws]: R, T and R + T (total internal reflection folds T into R) per
    # (side, fine angle); every child and leaf has its row precomputed (ops.node_factor)
    R = surf.R[:, :, :, w_sel].transpose(0, 2, 1, 3).reshape(2 * N_FINE, n_d, w_sel.size)
    T = surf.T[:, :, :, w_sel].transpose(0, 2, 1, 3).reshape(2 * N_FINE, n_d, w_sel.size)
    table = np.concatenate([R, T, R + T])
    for k, sl in enumerate(t.depth_slices):
        if k == 0:
            nodes[sl] = t.frac[sl, None, None] * root_w[t.root[sl]]
        else:  # frac * parent * factor, in place (the same products in the same order)
            out = nodes[sl]
            np.take(nodes, t.parent[sl], axis=0, out=out)
            out *= t.frac[sl, None, None]
            out *= np.take(table, ops.node_factor[sl], axis=0)
    par = t.leaf_parent
    has = par >= 0
    leaves = np.empty((par.size, n_d, w_sel.size))
    if np.any(has):
        leaves[has] = (t.leaf_frac[has, None, None] * nodes[par[has]]
                       * np.take(table, ops.leaf_factor[has], axis=0))
    if np.any(~has):
        leaves[~has] = t.leaf_frac[~has, None, None] * root_w[t.leaf_root[~has]]
    return nodes, leaves


def _apply(ops: _TreeOps, nodes, leaves, n_bins):
    """Outcomes of weighted trees: to wafer bins [n_bins, R, D, Ws], to outer [R, D, Ws], hits [2F, D, Ws]."""
    n_d, n_w = nodes.shape[1:]
    lw = leaves.reshape(leaves.shape[0], -1)
    to_w = (ops.leaf_to_wafer @ lw).reshape(n_bins, ops.tree.n_roots, n_d, n_w)
    to_o = (ops.leaf_to_outer @ lw).reshape(ops.tree.n_roots, n_d, n_w)
    return to_w, to_o


def _hits(ops: _TreeOps, nodes) -> np.ndarray:
    n_d, n_w = nodes.shape[1:]
    return (ops.node_to_angle @ nodes.reshape(nodes.shape[0], -1)).reshape(2, N_FINE, n_d, n_w)


def _matrices(surface, surf_s, levels, clear, lossy, n_d, opts):
    """Redistribution matrix [D, Wc, out, in] (contiguous for BLAS) of a surface lit from the wafer,
    what it sends into the outer medium [nb, D, Wc], and its weighted trees per index level."""
    nb = opts.n_bins * opts.n_phi
    M = np.zeros((n_d, clear.size, nb, nb))
    out = np.zeros((nb, n_d, clear.size))
    trees = {}
    for lv in np.unique(levels[clear]):
        sel = clear[levels[clear] == lv]
        ops = _tree(surface, "bins", 0.0, True, float(lv), lossy, opts)
        nodes, leaves = _propagate(ops, surf_s, sel, np.ones((nb, n_d, sel.size)))
        to_w, to_o = _apply(ops, nodes, leaves, nb)
        pos = np.searchsorted(clear, sel)
        M[:, pos] = to_w.transpose(2, 3, 0, 1)
        out[:, :, pos] = to_o
        trees[float(lv)] = (ops, sel, nodes)
    return M, out, trees


@dataclass(frozen=True)
class _Rear:
    """The rear interface of one set of rear films where the wafer transmits: M [Wc, nb, nb] back
    into the wafer, t [nb, Wc] into the exit medium and g [Lr, nb, Wc] absorbed in each rear film,
    per unit flux arriving in each bin."""

    M: np.ndarray
    t: np.ndarray
    g: np.ndarray
    surf: "_Surface" = None  # fine-angle R, T (outer side, wafer side), for the exact first pass
    a_fine: np.ndarray = None  # [Lr, 2 * N_FINE, Wc] film absorptance per (side, fine angle)
    levels: np.ndarray = None  # index level per wavelength


_REARS: dict[bytes, _Rear] = {}
_MAX_REARS = 4


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
        side_ro = FilmSide(nf, re_films, re_d, nw, wl, clear, xi_or, interp_outer(g_or, clear.size),
                           none, none, None, flip=True)
        Rr_fine[0], Tr_fine[0] = side_ro.R, side_ro.T
        if n_lr:
            a_fine[:, :N_FINE] = side_ro.fine_absorptance()[0]
    ratio_r = nw_r[0].real / (nf[0].real if not lossy else np.ones(n_w))
    lev_r = _levels(ratio_r, opaque, opts) if not lossy else np.ones(n_w)
    surf = _Surface(Rr_fine, Tr_fine)
    M, t, trees = _matrices(rear, surf, lev_r, clear, lossy, 1, opts)
    nb = opts.n_bins * opts.n_phi
    g = np.zeros((n_lr, nb, clear.size))
    for ops, sel, nodes in trees.values():
        pos = np.searchsorted(clear, sel)
        row = ops.tree.wafer_side.astype(np.int64) * N_FINE + ops.tree.angle
        to_root = sparse.csr_matrix((np.ones(row.size), (ops.node_root, np.arange(row.size))), shape=(nb, row.size))
        for lay in range(n_lr):  # absorbed per node, summed over the nodes of each root
            g[lay][:, pos] = to_root @ (nodes[:, 0] * a_fine[lay][row][:, pos])
    out = _Rear(M[0], t[:, 0], g, surf, a_fine, lev_r)
    if len(_REARS) >= _MAX_REARS:
        _REARS.pop(next(iter(_REARS)))
    _REARS[key] = out
    return out


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
    first = {float(lv): _tree(front, "incident", theta0, False, float(lv), False, opts) for lv in np.unique(lev_f)}
    used = [np.unique(np.concatenate([ops.tree.angle[ops.tree.wafer_side == side] for ops in first.values()]))
            for side in (False, True)]

    # ---- front films: outer side (incidence from air) and wafer side -----------------------
    fine_deg = np.arange(N_FINE) * ANGLE_STEP_DEG
    g_o = np.unique(np.concatenate([np.linspace(0.0, 89.5, opts.n_outer_angles), fine_deg[used[0]]]))
    g_o = g_o[g_o <= 89.5]
    xi_o = n0[0].real[None] * np.sin(np.radians(g_o))[:, None]
    xi_ou = n0[0, opq].real[None] * np.sin(np.radians(fine_deg[used[0]]))[:, None]
    side_fo = FilmSide(n0, fr_films, fr_d, nw, wl, clear, xi_o[:, clear], interp_outer(g_o, clear.size),
                    opq, used[0], xi_ou, flip=False)  # into the absorbing wafer
    s_c_front = np.clip(n0[0].real / nw_r[0].real, 0.0, 1.0)
    s_w = wafer_grid(s_c_front[clear], opts)
    xi_w = nw_r[0, clear].real[None] * s_w
    xi_wu = nw_r[0, opq].real[None] * np.sin(np.radians(np.minimum(fine_deg[used[1]], 89.5)))[:, None]
    # from inside the wafer: a plane wave needs a lossless incident medium; its k only matters
    # where the wafer transmits, where k is small (its bulk loss is in the propagation matrix)
    side_fw = FilmSide(nw_r, fr_films, fr_d, n0, wl, clear, xi_w, interp_wafer(s_w, s_c_front[clear]),
                    opq, used[1], xi_wu, flip=True)
    front_s = _Surface(np.stack([side_fo.R, side_fw.R]), np.stack([side_fo.T, side_fw.T]))

    R_front = np.zeros((n_d, n_w))
    v0 = np.zeros((nb, n_d, n_w))
    hits_f = np.zeros((2, N_FINE, n_d, n_w))
    v0_fine = {}  # level -> (flux into the wafer per fine direction [K, D, Ws], wavelengths)
    for lv, ops in first.items():
        sel = np.flatnonzero(lev_f == lv)
        nodes, leaves = _propagate(ops, front_s, sel, np.ones((1, n_d, sel.size)))
        to_w, to_o = _apply(ops, nodes, leaves, nb)
        if ops.leaf_to_fine is not None:
            v0_fine[lv] = ((ops.leaf_to_fine @ leaves.reshape(leaves.shape[0], -1)).reshape(-1, n_d, sel.size), sel)
        v0[:, :, sel] = to_w[:, 0]
        R_front[:, sel] = to_o[0]
        hits_f[:, :, :, sel] += _hits(ops, nodes)

    A_wafer = np.zeros((n_d, n_w))
    R_escape = np.zeros((n_d, n_w))
    T = np.zeros((n_d, n_w))
    A_rear = np.zeros((n_d, re_films.shape[1], n_w))
    A_wafer[:, opaque] = v0[:, :, opaque].sum(axis=0)

    if clear.size:
        # ---- rear: redistribution matrix, transmission and film absorption per unit flux --------
        # (solved once per distinct set of rear films and cached: studies rarely vary the rear)
        keys = [_rear_key(rear, re_films[i], re_d[i], nw[i], nf[i], wl, clear, lossy, opts) for i in range(n_d)]
        uniq = {k: None for k in keys}
        for i, k in enumerate(keys):
            if uniq[k] is None:
                uniq[k] = _rear_interface(k, rear, re_films[i:i + 1], re_d[i:i + 1], nw[i:i + 1], nf[i:i + 1], wl,
                                          clear, opaque, lossy, opts)
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
            fine = _fine_bins(opts)
            for lv, (e, sel_f) in v0_fine.items():
                cos_k = np.cos(np.radians(fine.centres_deg[first[lv].fine_ids]))
                for i, r in enumerate(rears):
                    for lv_r in np.unique(r.levels[sel_f]):
                        m = ~opaque[sel_f] & (r.levels[sel_f] == lv_r)
                        if not m.any():
                            continue
                        sel = sel_f[m]
                        pos = np.searchsorted(clear, sel)
                        ch = _chained(first[lv].fine_ids, rear, float(lv_r), lossy, opts)
                        pk = np.exp(-alpha[i, sel] * d[i, iw] / cos_k[:, None])[:, None]  # [K, 1, Ws]
                        e_i = e[:, i:i + 1, m]
                        A_wafer[i, sel] += ((1 - pk) * e_i).sum(0)[0]
                        nodes, leaves = _propagate(ch, r.surf, sel, pk * e_i)
                        to_w, to_o = _apply(ch, nodes, leaves, nb)
                        y1[i, pos] = to_w[:, :, 0].sum(1).T
                        T[i, sel] += to_o[:, 0].sum(0)
                        row = ch.tree.wafer_side.astype(np.int64) * N_FINE + ch.tree.angle
                        for lay in range(r.a_fine.shape[0]):
                            A_rear[i, lay, sel] += (nodes[:, 0] * r.a_fine[lay][row][:, pos]).sum(0)
            v = np.einsum("dwij,dwj->dwi", Mf, p * y1)
        else:
            v = np.moveaxis(v0[:, :, clear], 0, -1)
        x = multiple_passes(Mf, Mr, p, v)  # [D, Wc, nb]
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
            hits_f[:, :, :, sel] += _hits(ops, nodes * scale)

    # ---- front films from their hit weights ---------------------------------------------------
    A = np.zeros((n_d, n_l, n_w))
    A[:, :iw] = side_fo.absorb(np.moveaxis(hits_f[0], 0, 1)) + side_fw.absorb(np.moveaxis(hits_f[1], 0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        A[:, iw] = A_wafer * np.where(alpha > 0, alpha_bb / alpha, 1.0)
    A[:, iw + 1:] = A_rear
    R = R_front + R_escape
    h_o = np.moveaxis(hits_f[0], 0, 1)
    h_w = np.moveaxis(hits_f[1], 0, 1)
    res = TexturedResult(wl, R, T, A, R_front, R_escape, labels, iw, h_o, h_w)
    if single:
        res = TexturedResult(wl, R[0], T[0], A[0], R_front[0], R_escape[0], labels, iw, h_o[0], h_w[0])
    return res
