"""Facet-hit trees weighted with thin-film coefficients (``optics.redistribution``).

A tree (``optics.texture.Tree``) holds the geometry of every ray path through one textured
surface; the films on the facets give each branch a probability (R or T at the local angle, or
R + T where the transmitted branch is totally internally reflected). This module caches the
trees per geometry, with every index array that depends on the geometry only (the factor rows
of each node, the sparse maps from leaves to outcomes), and weights them for a batch of designs:
``propagate`` multiplies the factors down the tree depth by depth, ``outcomes`` and ``hits`` sum
the weighted leaves and nodes into redistribution matrices and hit weights per local angle.

The trees and their index arrays depend on the geometry only (texture, index level, rays), so
they are computed once per process and reused by every design and wavelength grid.

References
----------
Tucher et al., Opt. Express 23, A1720 (2015) (OPTOS); Pearce, J. Open Source Softw. 6, 3460
(2021) (RayFlare).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .texture import N_FINE, Bins, Texture, Tree, bin_roots, flat_tree, incidence_roots, trace

_TREES: dict[tuple, "TreeOps"] = {}
_MAX_TREES = 256


@dataclass
class Surface:
    """Fine-angle R and T of one interface for a batch: [2 * N_FINE, D, W], rows side-major
    (light from the outer medium at rows 0..N_FINE-1, from the wafer at N_FINE..2 N_FINE-1)."""

    R: np.ndarray
    T: np.ndarray

    @classmethod
    def from_sides(cls, outer: tuple, wafer: tuple) -> "Surface":
        """From (R, T) [D, F, W] seen from the outer medium and from the wafer (one copy each)."""
        flat = lambda a, b: np.concatenate([a.transpose(1, 0, 2), b.transpose(1, 0, 2)])  # noqa: E731
        return cls(flat(outer[0], wafer[0]), flat(outer[1], wafer[1]))


@dataclass
class TreeOps:
    """A tree with the index arrays and sparse maps that turn its node weights into outcomes.

    Leaves are reordered so that those with a parent node come first (``n_inner``). The factor
    of every node and leaf is a row of a compact table (``table_rows``: R, T or R + T at one side
    and fine angle, row = kind * 2F + side * F + angle), built once per call of ``propagate``.
    """

    tree: object
    node_root: np.ndarray
    leaf_root_all: np.ndarray  # root of every leaf (through its parent chain)
    leaf_to_wafer: sparse.csr_matrix  # [n_bins * n_roots, n_leaves]
    leaf_to_outer: sparse.csr_matrix  # [n_roots, n_leaves]
    node_to_angle: sparse.csr_matrix  # [2 * N_FINE, n_nodes] (outer side first)
    node_row: np.ndarray  # side * N_FINE + angle of every node
    depth: list  # per depth: (slice, parent or root index, frac [n, 1, 1], factor index)
    n_inner: int
    leaf_parent: np.ndarray
    leaf_frac: np.ndarray  # [n_leaves, 1, 1]
    leaf_factor: np.ndarray
    leaf_root: np.ndarray  # root of the leaves without a parent
    table_kind: tuple  # (positions, rows) for kinds R, T, R + T
    n_table: int
    fine_ids: np.ndarray | None = None  # fine direction bins of the wafer leaves (first incidence)
    leaf_to_fine: sparse.csr_matrix | None = None  # [fine_ids, n_leaves]
    cache: dict | None = None  # per-surface products that depend on the geometry only


def _ops(tree, n_bins) -> TreeOps:
    n = tree.n_nodes
    node_root = np.empty(n, dtype=np.int64)
    for k, sl in enumerate(tree.depth_slices):
        node_root[sl] = tree.root[sl] if k == 0 else node_root[tree.parent[sl]]
    has = tree.leaf_parent >= 0
    order = np.concatenate([np.flatnonzero(has), np.flatnonzero(~has)])
    lp, lb, lr = tree.leaf_parent[order], tree.leaf_branch[order], tree.leaf_root[order]
    w = tree.leaf_dest_wafer[order]
    leaf_root = np.where(lp >= 0, node_root[np.maximum(lp, 0)], lr)
    nl = lp.size
    to_w = sparse.csr_matrix((np.ones(w.sum()), (tree.leaf_bin[order][w] * tree.n_roots + leaf_root[w],
                                                  np.flatnonzero(w))), shape=(n_bins * tree.n_roots, nl))
    to_o = sparse.csr_matrix((np.ones((~w).sum()), (leaf_root[~w], np.flatnonzero(~w))), shape=(tree.n_roots, nl))
    row = tree.wafer_side.astype(np.int64) * N_FINE + tree.angle
    to_a = sparse.csr_matrix((np.ones(n), (row, np.arange(n))), shape=(2 * N_FINE, n))
    two_f = 2 * N_FINE

    def factor_rows(parent, branch):
        p = np.maximum(parent, 0)
        kind = np.where(branch == 1, 1, np.where(tree.tir[p], 2, 0))
        return np.where(parent >= 0, kind * two_f + row[p], 0)

    n_inner = int(has.sum())
    node_f = factor_rows(tree.parent, tree.branch)
    leaf_f = factor_rows(lp[:n_inner], lb[:n_inner])
    rows = np.unique(np.concatenate([node_f[tree.parent >= 0], leaf_f, [0]]))
    compact = lambda f: np.searchsorted(rows, f)  # noqa: E731
    node_c = compact(node_f)
    depth = []
    for k, sl in enumerate(tree.depth_slices):
        src = tree.root[sl] if k == 0 else tree.parent[sl]
        depth.append((sl, src, tree.frac[sl, None, None], node_c[sl]))
    kinds = rows // two_f
    table_kind = tuple((np.flatnonzero(kinds == k), rows[kinds == k] % two_f) for k in range(3))
    ops = TreeOps(tree, node_root, leaf_root, to_w, to_o, to_a, row, depth, n_inner, lp[:n_inner],
                  tree.leaf_frac[order][:, None, None], compact(leaf_f), lr[n_inner:], table_kind, rows.size,
                  cache={})
    if tree.leaf_fine is not None:
        fine = tree.leaf_fine[order]
        f = fine >= 0
        ops.fine_ids, k = np.unique(fine[f], return_inverse=True)
        ops.leaf_to_fine = sparse.csr_matrix((np.ones(f.sum()), (k.ravel(), np.flatnonzero(f))),
                                             shape=(ops.fine_ids.size, nl))
    return ops


def fine_bins(opts) -> Bins:
    """The first pass's direction grid, nested in the bins (see ``TextureOptions``)."""
    step = opts.first_pass_step_deg
    return Bins(opts.n_bins * max(1, round(90.0 / opts.n_bins / step)),
                opts.n_phi * max(1, round(45.0 / opts.n_phi / step)))


def _store(key, make) -> TreeOps:
    hit = _TREES.get(key)
    if hit is None:
        if len(_TREES) >= _MAX_TREES:
            _TREES.pop(next(iter(_TREES)))
        hit = _TREES[key] = make()
    return hit


def tree(texture: Texture, roots: str, theta_deg: float, from_wafer: bool, level: float, lossy: bool,
         opts) -> TreeOps:
    """Cached tree of ``texture`` at index level ``level`` (``opts``: a ``TextureOptions``).

    roots : "incident" (one root: light from the outer medium at ``theta_deg``) or "bins" (one
        root per direction bin of the light in the wafer, ``from_wafer``).
    """
    key = (texture, roots, theta_deg, from_wafer, level, lossy, opts.n_bins, opts.n_phi, opts.rays_incident,
           opts.rays_per_bin, opts.seed, opts.first_pass_step_deg)

    def make():
        bins = Bins(opts.n_bins, opts.n_phi)
        if roots == "incident":
            root_cos = np.array([np.cos(np.radians(theta_deg))])
            if texture.traced:
                t = trace(texture, incidence_roots(theta_deg, opts.rays_incident, opts.seed), False, level,
                          lossy, bins, opts.seed, fine=fine_bins(opts))
            else:
                t = flat_tree(texture.kind, root_cos, False, level, bins)
        elif texture.traced:
            t = trace(texture, bin_roots(bins, opts.rays_per_bin, opts.seed), from_wafer, level, lossy, bins,
                      opts.seed)
        else:
            t = flat_tree(texture.kind, np.cos(np.radians(bins.centres_deg)), True, level, bins,
                          bins.phi_centres_deg)
        return _ops(t, bins.n)

    return _store(key, make)


def chained(fine_ids: np.ndarray, rear: Texture, level: float, lossy: bool, opts) -> TreeOps:
    """Tree of the first rear interaction: one root per fine direction bin ``fine_ids`` of the
    light the first incidence sends into the wafer (cached per geometry like ``tree``)."""
    key = ("chained", tuple(fine_ids.tolist()), rear, level, lossy, opts)

    def make():
        bins = Bins(opts.n_bins, opts.n_phi)
        per = max(opts.rays_per_bin, 2 ** int(np.log2(max(opts.rays_first_pass // max(fine_ids.size, 1), 1))))
        t = trace(rear, bin_roots(fine_bins(opts), per, opts.seed, which=fine_ids), True, level, lossy, bins,
                  opts.seed)
        return _ops(t, bins.n)

    return _store(key, make)


def _merge(trees: list) -> Tree:
    """One tree with the roots of all ``trees`` (in order), nodes still listed depth by depth."""
    n_depth = max(len(t.depth_slices) for t in trees)
    new_id = [np.empty(t.n_nodes, dtype=np.int64) for t in trees]
    root_off = np.concatenate([[0], np.cumsum([t.n_roots for t in trees])])
    cols = {k: [] for k in ("root", "parent", "branch", "wafer_side", "angle", "frac", "tir")}
    slices, pos = [], 0
    for k in range(n_depth):
        start = pos
        for i, t in enumerate(trees):
            if k >= len(t.depth_slices):
                continue
            sl = t.depth_slices[k]
            new_id[i][sl] = np.arange(pos, pos + sl.stop - sl.start)
            pos += sl.stop - sl.start
            cols["root"].append(np.where(t.root[sl] >= 0, t.root[sl] + root_off[i], -1))
            cols["parent"].append(np.where(t.parent[sl] >= 0, new_id[i][np.maximum(t.parent[sl], 0)], -1))
            for name in ("branch", "wafer_side", "angle", "frac", "tir"):
                cols[name].append(getattr(t, name)[sl])
        slices.append(slice(start, pos))
    lp = [np.where(t.leaf_parent >= 0, new_id[i][np.maximum(t.leaf_parent, 0)], -1) for i, t in enumerate(trees)]
    lr = [np.where(t.leaf_root >= 0, t.leaf_root + root_off[i], -1) for i, t in enumerate(trees)]
    cat = lambda name: np.concatenate([getattr(t, name) for t in trees])  # noqa: E731
    return Tree(int(root_off[-1]), *(np.concatenate(cols[c]) for c in cols), tuple(slices), np.concatenate(lp),
                np.concatenate(lr), cat("leaf_branch"), cat("leaf_dest_wafer"), cat("leaf_bin"), cat("leaf_frac"),
                cat("leaf_fine") if all(t.leaf_fine is not None for t in trees) else None)


def incident_forest(texture: Texture, theta_deg: float, levels, opts) -> tuple[TreeOps, list[TreeOps]]:
    """The first-incidence trees of all index ``levels`` merged into one (root l: level l), so
    that one ``propagate`` weights them all (each wavelength lights only its level's root),
    and the trees per level."""
    parts = [tree(texture, "incident", theta_deg, False, float(lv), False, opts) for lv in levels]
    key = ("forest", texture, theta_deg, tuple(float(lv) for lv in levels), opts.n_bins, opts.n_phi,
           opts.rays_incident, opts.seed, opts.first_pass_step_deg)
    return _store(key, lambda: _ops(_merge([p.tree for p in parts]), opts.n_bins * opts.n_phi)), parts


def clear() -> None:
    _TREES.clear()


def propagate(ops: TreeOps, surf: Surface, w_sel, root_w: np.ndarray):
    """Node and leaf weights [N, D, Ws] of a tree at the wavelengths ``w_sel`` (indices or a
    slice); root_w [n_roots, D, Ws] (D may be 1 for a surface shared by the designs)."""
    t = ops.tree
    n_d = max(surf.R.shape[1], root_w.shape[1])
    n_w = root_w.shape[-1]
    # the factor table: R, T or R + T (total internal reflection folds T into R) per row the tree uses
    table = np.empty((ops.n_table, surf.R.shape[1], n_w))
    (pr, rr), (pt, rt), (ps, rs) = ops.table_kind
    if not isinstance(w_sel, slice):
        w_sel = as_slice(w_sel)
    Rw, Tw = surf.R[:, :, w_sel], surf.T[:, :, w_sel]  # views for a run of wavelengths
    table[pr] = Rw[rr]
    table[pt] = Tw[rt]
    table[ps] = Rw[rs] + Tw[rs]
    nodes = np.empty((t.n_nodes, n_d, n_w))
    for k, (sl, src, frac, fac) in enumerate(ops.depth):
        out = nodes[sl]
        if k == 0:
            np.multiply(frac, root_w[src], out=out)
        else:  # frac * parent * factor, in place
            np.take(nodes, src, axis=0, out=out)
            out *= frac
            out *= np.take(table, fac, axis=0)
    leaves = np.empty((ops.leaf_frac.shape[0], n_d, n_w))
    ni = ops.n_inner
    if ni:
        inner = leaves[:ni]
        np.multiply(ops.leaf_frac[:ni], np.take(nodes, ops.leaf_parent, axis=0), out=inner)
        inner *= np.take(table, ops.leaf_factor, axis=0)
    if ni < leaves.shape[0]:
        np.multiply(ops.leaf_frac[ni:], root_w[ops.leaf_root], out=leaves[ni:])
    return nodes, leaves


def outcomes(ops: TreeOps, leaves, n_bins):
    """Outcomes of weighted trees: to wafer bins [n_bins, R, D, Ws], to outer [R, D, Ws]."""
    n_d, n_w = leaves.shape[1:]
    lw = leaves.reshape(leaves.shape[0], -1)
    to_w = (ops.leaf_to_wafer @ lw).reshape(n_bins, ops.tree.n_roots, n_d, n_w)
    to_o = (ops.leaf_to_outer @ lw).reshape(ops.tree.n_roots, n_d, n_w)
    return to_w, to_o


def wafer_matrix_into(ops: TreeOps, leaves: np.ndarray, out: np.ndarray) -> None:
    """Write the flux the weighted leaves [NL, D, Ws] send into the wafer into ``out`` [Ws, D,
    n_bins * n_roots], in the wavelength-first layout the linear algebra of the passes needs (one
    sparse product over the leaves, then one transposed copy: 2-3x faster than gathering and
    summing the wafer leaves run by run)."""
    n_l, n_d, n_w = leaves.shape
    summed = ops.leaf_to_wafer @ leaves.reshape(n_l, n_d * n_w)  # [n_bins * n_roots, D * Ws]
    out[...] = summed.reshape(-1, n_d, n_w).transpose(2, 1, 0)


def as_slice(idx: np.ndarray):
    """A slice for a contiguous run of indices (indexing then gives a view, and in-place updates
    avoid numpy's slow fancy-index path), else the indices."""
    if idx.size and idx[-1] - idx[0] + 1 == idx.size:
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def hits(ops: TreeOps, nodes) -> np.ndarray:
    """Hit weight per (side, fine local angle) [2, N_FINE, D, Ws] of weighted nodes."""
    n_d, n_w = nodes.shape[1:]
    return (ops.node_to_angle @ nodes.reshape(nodes.shape[0], -1)).reshape(2, N_FINE, n_d, n_w)
