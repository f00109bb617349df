"""Geometric ray optics on pyramid textures: the thin-film-independent part of a textured surface.

A textured interface separates the *outer* medium (air in front, the exit medium at the rear)
from the incoherent *wafer*. Every facet carries the same conformal thin-film stack, so the
geometry of a ray path (where it hits, at which local angle, where the reflected and refracted
rays go) depends only on the two bounding media, while the probability of each branch (R, T and
the absorption of each film at that local angle) depends on the films. This module traces the
geometry once and stores every path as a tree of facet hits; ``optics.redistribution`` weights
the tree with the films' TMM coefficients for each design. Rays are split deterministically at
each hit (both the reflected and the transmitted branch are followed), so there is no Monte-Carlo
noise in the weights; only the ray start points and directions are sampled (stratified, with a
fixed seed).

Surfaces (``Texture.kind``; the surface descriptions ``Texture`` and ``WaferTexture`` live in
``optics.surfaces``, which a design imports without the tracing code, and are public here too):

* ``"regular_upright"`` / ``"regular_inverted"``: square-based pyramids of one size on a square
  lattice, facets at ``facet_deg`` to the mean plane (54.74 deg: the {111} planes of an
  alkaline-etched <100> wafer).
* ``"random_upright"``: upright pyramids of random size (base 1.5-2.5 lattice periods) at
  randomly jittered lattice sites, overlapping so that the surface is fully covered, in a periodic
  4 x 4 supercell: the texture of alkaline etching [Baker-Finch & McIntosh, Prog. Photovolt. 19,
  406 (2011)]. Between two passes through the wafer the ray lands at an uncorrelated position and
  azimuth (the angle bins of the matrix method keep only the polar angle), as in RayFlare's
  ``randomize_surface`` and GenPro4.
* ``"planar"``: a flat interface (specular).
* ``"lambertian"``: an ideal randomising interface: reflection and transmission at the stack's
  coefficients for the incidence angle, outgoing light Lambertian (cos theta) distributed
  [Yablonovitch, J. Opt. Soc. Am. 72, 899 (1982)].

The trees are built per "index level": the refracted direction depends on n_wafer / n_outer,
which is quantised to a relative step of ``index_step``; each wavelength uses its level's tree.

Geometry: the pyramid solids {z <= H_i - tan(a) max(|x - x_i|, |y - y_i|)} are convex (four
half-spaces), so a ray coming from above enters the surface at the first entry into any solid,
and a ray inside leaves it at the end of the connected union of the solids' intervals along it.
Inverted pyramids (and rear surfaces, seen from the wafer) are the same solids in a frame
mirrored in z, with the media exchanged.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .surfaces import DEFAULT_FACET_DEG, KINDS, Texture, WaferTexture  # noqa: F401 (public here)

#: local angles are keyed on this grid (deg) when identical paths are merged
ANGLE_STEP_DEG = 0.25
N_FINE = int(round(90 / ANGLE_STEP_DEG)) + 1
_TOL = 1e-9
_MAX_DEPTH = 14


@functools.lru_cache(maxsize=32)
def _bin_centres_deg(n_theta: int, n_phi: int) -> np.ndarray:
    e = np.linspace(0.0, 90.0, n_theta + 1)
    c = np.repeat(0.5 * (e[1:] + e[:-1]), n_phi)
    c.flags.writeable = False
    return c


@dataclass(frozen=True)
class Bins:
    """Direction bins of the light in the wafer: ``n_theta`` polar bins uniform in theta over
    [0, 90] deg times ``n_phi`` azimuth bins over [0, 45] deg. Pyramid textures have the square
    symmetry of the crystal (the facets of every pyramid, front and rear, lie along the same
    <110> directions), so an azimuth is folded into [0, 45] deg without loss; keeping it is what
    lets light entering along one facet orientation meet the rear facets at the right angle."""

    n_theta: int
    n_phi: int = 1

    @property
    def n(self) -> int:
        return self.n_theta * self.n_phi

    @property
    def edges_deg(self) -> np.ndarray:
        """Polar-angle edges [n_theta + 1]."""
        return np.linspace(0.0, 90.0, self.n_theta + 1)

    @property
    def centres_deg(self) -> np.ndarray:
        """Polar angle of every bin [n] (bin k = theta bin k // n_phi, azimuth bin k % n_phi);
        computed once per grid (read-only)."""
        return _bin_centres_deg(self.n_theta, self.n_phi)

    @property
    def phi_centres_deg(self) -> np.ndarray:
        return np.tile((np.arange(self.n_phi) + 0.5) * 45.0 / self.n_phi, self.n_theta)

    def index(self, d: np.ndarray) -> np.ndarray:
        """Bin of directions d [R, 3] (either hemisphere)."""
        theta = np.degrees(np.arccos(np.clip(np.abs(d[:, 2]), 0.0, 1.0)))
        it = np.minimum((theta / (90.0 / self.n_theta)).astype(int), self.n_theta - 1)
        if self.n_phi == 1:
            return it
        phi = np.mod(np.degrees(np.arctan2(d[:, 1], d[:, 0])), 90.0)
        phi = np.where(phi > 45.0, 90.0 - phi, phi)
        ip = np.minimum((phi / (45.0 / self.n_phi)).astype(int), self.n_phi - 1)
        return it * self.n_phi + ip

    def coarse_of(self, fine_index: np.ndarray, fine: "Bins") -> np.ndarray:
        """This grid's bin of each bin of a nested finer grid ``fine``."""
        ft, fp = np.divmod(np.asarray(fine_index), fine.n_phi)
        return (ft // (fine.n_theta // self.n_theta)) * self.n_phi + fp // (fine.n_phi // self.n_phi)

    def lambertian_fractions(self) -> np.ndarray:
        """Share of Lambertian (cos theta sin theta, isotropic in azimuth) flux in each bin [n]."""
        s2 = np.sin(np.radians(self.edges_deg)) ** 2
        return np.repeat(np.diff(s2) / self.n_phi, self.n_phi)


@dataclass(frozen=True)
class Tree:
    """Facet-hit tree of one surface, one set of roots and one index level.

    Nodes (hits) are listed depth by depth; ``parent`` indexes the global node list (-1 for a
    root hit, whose ``root`` names its root), ``branch`` is 0 when the ray arrived by reflection
    at the parent, 1 by transmission. ``wafer_side`` is True when the ray hits the stack from the
    wafer; ``angle`` is the fine-grid index of the local angle of incidence (in the incident
    medium); ``frac`` the share of the parent's rays that follow this path (of the root's rays for
    a root hit). ``tir``: no transmitted branch (total internal reflection; its T folds into R).
    Leaves: rays that leave the texture, with ``dest_wafer`` (into the wafer, polar bin ``bin``)
    or into the outer medium; ``parent`` is a node (-1: the ray of root ``root`` met no facet),
    ``branch`` 0/1, ``frac`` (of the parent's rays) as for nodes.
    ``depth_slices``: node ranges per depth.
    """

    n_roots: int
    root: np.ndarray
    parent: np.ndarray
    branch: np.ndarray
    wafer_side: np.ndarray
    angle: np.ndarray
    frac: np.ndarray
    tir: np.ndarray
    depth_slices: tuple[slice, ...]
    leaf_parent: np.ndarray
    leaf_root: np.ndarray
    leaf_branch: np.ndarray
    leaf_dest_wafer: np.ndarray
    leaf_bin: np.ndarray
    leaf_frac: np.ndarray
    leaf_fine: np.ndarray | None = None  # fine direction bin of wafer leaves (``trace(fine=...)``)

    @property
    def n_nodes(self) -> int:
        return int(self.parent.size)


# --------------------------------------------------------------------------------------------
# pyramid solids
# --------------------------------------------------------------------------------------------
def _solids(texture: Texture, seed: int):
    """Planes of the pyramid solids around the unit cell: A [P, 4, 3], b [P, 4]; cell size L."""
    t = np.tan(np.radians(texture.facet_deg))
    if texture.kind.startswith("regular"):
        cell, n_img = 1.0, 2
        xc = np.array([0.5])
        yc = np.array([0.5])
        half = np.array([0.5])
    else:
        rng = np.random.default_rng(seed)
        m = 4
        cell, n_img = float(m), 1
        gx, gy = np.meshgrid(np.arange(m) + 0.5, np.arange(m) + 0.5, indexing="ij")
        xc = gx.ravel() + rng.uniform(-0.25, 0.25, m * m)
        yc = gy.ravel() + rng.uniform(-0.25, 0.25, m * m)
        half = rng.uniform(0.75, 1.25, m * m)  # half the base: covers the own cell with jitter
    height = t * half
    shifts = np.arange(-n_img, n_img + 1) * cell
    sx, sy = np.meshgrid(shifts, shifts, indexing="ij")
    cx = (xc[None, :] + sx.ravel()[:, None]).ravel()
    cy = (yc[None, :] + sy.ravel()[:, None]).ravel()
    h = np.tile(height, sx.size)
    # half-spaces a . r <= b: z + s t (x - cx) <= h, z + s t (y - cy) <= h
    A = np.zeros((cx.size, 4, 3))
    b = np.empty((cx.size, 4))
    for k, (axis, sgn) in enumerate(((0, 1), (0, -1), (1, 1), (1, -1))):
        A[:, k, axis] = sgn * t
        A[:, k, 2] = 1.0
        b[:, k] = h + sgn * t * (cx if axis == 0 else cy)
    return A, b, cell, float(height.max())


def _intervals(p, d, A, b):
    """Entry/exit parameters of each ray in each solid: s_in, s_out [R, P], and per plane [R, P, 4]."""
    flat = A.reshape(-1, 3).T
    ad = (d @ flat).reshape(len(d), *A.shape[:2])
    ap = (p @ flat).reshape(len(p), *A.shape[:2])
    ad = np.where(ad == 0, 1e-300, ad)  # a ray parallel to a facet plane: enters/leaves at infinity
    s = (b[None] - ap) / ad
    s_enter = np.where(ad < 0, s, -np.inf)
    s_exit = np.where(ad > 0, s, np.inf)
    return s_enter.max(axis=2), s_exit.min(axis=2), s_enter, s_exit


def _next_hit(p, d, inside, A, b):
    """Next surface crossing: s [R] (inf if none), outward facet normal [R, 3].

    Rays outside the solids (``inside`` False) enter the first solid they meet; rays inside leave
    the union of the solids at the end of the connected run of intervals that contains them.
    """
    n_r = p.shape[0]
    s_hit = np.full(n_r, np.inf)
    normal = np.zeros((n_r, 3))
    s_in, s_out, s_enter, s_exit = _intervals(p, d, A, b)
    valid = s_in < s_out
    out = ~inside
    if np.any(out):
        cand = np.where(valid[out] & (s_in[out] > _TOL), s_in[out], np.inf)
        j = np.argmin(cand, axis=1)
        rows = np.flatnonzero(out)
        s_hit[rows] = cand[np.arange(rows.size), j]
        kk = np.argmax(s_enter[rows, j], axis=1)
        normal[rows] = A[j, kk] / np.linalg.norm(A[j, kk], axis=1)[:, None]
    if np.any(inside):
        rows = np.flatnonzero(inside)
        si, so, ok = s_in[rows], s_out[rows], valid[rows]
        cur = np.zeros(rows.size)
        for _ in range(64):
            cover = ok & (si <= cur[:, None] + _TOL) & (so > cur[:, None] + _TOL)
            new = np.max(np.where(cover, so, cur[:, None]), axis=1)
            if np.array_equal(new, cur):
                break
            cur = new
        j = np.argmax(np.where(ok & (so <= cur[:, None] + _TOL) & (si <= cur[:, None] + _TOL), so, -np.inf), axis=1)
        # the surface lies in z >= 0 and every point below it is inside: a ray that reaches
        # z < 0 inside the solids has left the texture into the lower medium
        dz = d[rows, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            s_floor = np.where(dz < 0, -p[rows, 2] / dz, np.inf)
        found = np.isfinite(cur) & (cur > _TOL) & (cur < s_floor)
        s_hit[rows] = np.where(found, cur, np.inf)
        kk = np.argmin(s_exit[rows, j], axis=1)
        normal[rows] = A[j, kk] / np.linalg.norm(A[j, kk], axis=1)[:, None]
    return s_hit, normal


# --------------------------------------------------------------------------------------------
# ray splitting
# --------------------------------------------------------------------------------------------
def _split(d, normal, inside, ratio_ul):
    """Reflected and refracted directions at facets with outward (into U) normals.

    ``ratio_ul`` = n_L / n_U. Returns cos of the local angle (in the incident medium), d_r,
    d_t (NaN rows where totally reflected).
    """
    dn = np.einsum("rc,rc->r", d, normal)
    cos_i = np.abs(dn)
    d_r = d - 2 * dn[:, None] * normal
    eta = np.where(inside, ratio_ul, 1.0 / ratio_ul)  # n_incident / n_transmitted
    tang = d - dn[:, None] * normal
    d_t = eta[:, None] * tang
    s2 = np.einsum("rc,rc->r", d_t, d_t)
    ok = s2 < 1.0
    nt = np.sqrt(np.clip(1.0 - s2, 0.0, None))
    d_t = d_t + (np.sign(dn) * nt)[:, None] * normal
    d_t[~ok] = np.nan
    return cos_i, d_r, d_t


def _angle_index(cos_i):
    return np.rint(np.degrees(np.arccos(np.clip(cos_i, 0.0, 1.0))) / ANGLE_STEP_DEG).astype(np.int64)


def trace(texture: Texture, roots: list[tuple[np.ndarray, np.ndarray]], from_wafer: bool, ratio: float,
          outer_lossy: bool, bins: Bins, seed: int = 1, fine: Bins | None = None) -> Tree:
    """Trace rays through one textured surface and merge identical paths into a tree.

    The surface's frame has +z pointing from the wafer into the outer medium (so the same code
    serves the front and the rear); "upright" pyramids point out of the wafer.

    roots : list of (directions [R, 3], positions [R, 2] as fractions of the cell) per root, all
        rays coming from the wafer (``from_wafer``, d_z > 0) or from the outer medium (d_z < 0).
    ratio : n_wafer / n_outer (real parts) at this index level.
    outer_lossy : light transmitted into the outer medium is lost (no re-entry traced).
    bins : polar-angle bins of the light leaving into the wafer.
    seed : of the random-pyramid supercell.
    fine : a finer grid nested in ``bins``: rays into the wafer are merged per fine bin only and
        the tree keeps it (``leaf_fine``), so that their exact direction can be followed further.
    """
    if not texture.traced:
        raise ValueError(f"texture {texture.kind!r} is not ray traced; use flat_tree")
    frame_flip = texture.kind.endswith("inverted")
    wafer_is_lower = not frame_flip  # inverted: the outer medium fills the (mirrored) pyramids
    A, b, cell, h_max = _solids(texture, seed)
    ratio_ul = ratio if wafer_is_lower else 1.0 / ratio
    dirs, pos, root_id = [], [], []
    for r, (d, xy) in enumerate(roots):
        dirs.append(d)
        pos.append(xy)
        root_id.append(np.full(len(d), r))
    d = np.concatenate(dirs).astype(float)
    xy = np.concatenate(pos).astype(float) * cell
    rid = np.concatenate(root_id)
    n_root_rays = np.bincount(rid, minlength=len(roots)).astype(float)
    if frame_flip:
        d = d * np.array([1.0, 1.0, -1.0])
    # start side in the frame: "inside" = in the solids (lower medium)
    start_inside = from_wafer == wafer_is_lower
    z0 = -1e-7 if start_inside else h_max + 1e-3
    p = np.column_stack([xy, np.full(len(d), z0)])
    inside = np.full(len(d), start_inside)
    # per-ray bookkeeping: the merged node each ray currently sits under (-1: a root) and branch
    ray_parent = np.full(len(d), -1, dtype=np.int64)
    ray_branch = np.full(len(d), -1, dtype=np.int64)
    ray_count_parent = n_root_rays[rid]  # rays in the parent group (root: all rays of the root)

    node_cols = {k: [] for k in ("root", "parent", "branch", "wafer_side", "angle", "frac", "tir")}
    leaf_cols = {k: [] for k in ("parent", "root", "branch", "dest", "bin", "frac", "fine")}
    slices = []
    n_nodes = 0
    active = np.arange(len(d))

    def add_leaves(idx, dest_wafer, counts_parent):
        if idx.size == 0:
            return
        bin_ = np.where(dest_wafer, (fine or bins).index(d[idx]), 0)
        key = np.stack([ray_parent[idx], ray_branch[idx], np.where(ray_parent[idx] < 0, rid[idx], 0),
                        dest_wafer.astype(np.int64), bin_], axis=1)
        uniq, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        denom = np.zeros(len(uniq))
        denom[inv.ravel()] = counts_parent
        leaf_cols["parent"].append(uniq[:, 0])
        leaf_cols["root"].append(np.where(uniq[:, 0] < 0, uniq[:, 2], -1))
        leaf_cols["branch"].append(uniq[:, 1])
        leaf_cols["dest"].append(uniq[:, 3].astype(bool))
        leaf_cols["bin"].append(uniq[:, 4] if fine is None else np.where(uniq[:, 3] > 0, bins.coarse_of(uniq[:, 4], fine), 0))
        leaf_cols["fine"].append(np.where(uniq[:, 3] > 0, uniq[:, 4], -1))
        leaf_cols["frac"].append(cnt / denom)

    for depth in range(_MAX_DEPTH + 1):
        if active.size == 0:
            break
        pa, da, ins = p[active], d[active], inside[active]
        s_hit, normal = _next_hit(pa, da, ins, A, b)
        # a ray below the surface going down, or above it going up, may find no crossing: it leaves
        gone = ~np.isfinite(s_hit)
        if depth == _MAX_DEPTH:
            gone[:] = True
        leaving = active[gone]
        if leaving.size:
            # lower medium = wafer when wafer_is_lower
            into_lower = inside[leaving]
            dest_w = into_lower == wafer_is_lower
            add_leaves(leaving, dest_w, ray_count_parent[leaving])
        hit = active[~gone]
        if hit.size == 0:
            break
        s_h, nrm = s_hit[~gone], normal[~gone]
        q = p[hit] + s_h[:, None] * d[hit]
        q[:, :2] = np.mod(q[:, :2], cell)
        ins_h = inside[hit]
        cos_i, d_r, d_t = _split(d[hit], nrm, ins_h, ratio_ul)
        ang = _angle_index(cos_i)
        wafer_side = ins_h == wafer_is_lower
        tir = np.isnan(d_t[:, 0])
        key = np.stack([ray_parent[hit], ray_branch[hit], np.where(ray_parent[hit] < 0, rid[hit], 0),
                        wafer_side.astype(np.int64), ang, tir.astype(np.int64)], axis=1)
        uniq, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        inv = inv.ravel()
        denom = np.zeros(len(uniq))
        denom[inv] = ray_count_parent[hit]
        node_cols["root"].append(np.where(uniq[:, 0] < 0, uniq[:, 2], -1))
        node_cols["parent"].append(uniq[:, 0])
        node_cols["branch"].append(uniq[:, 1])
        node_cols["wafer_side"].append(uniq[:, 3].astype(bool))
        node_cols["angle"].append(uniq[:, 4])
        node_cols["frac"].append(cnt / denom)
        node_cols["tir"].append(uniq[:, 5].astype(bool))
        slices.append(slice(n_nodes, n_nodes + len(uniq)))
        node_id = n_nodes + inv
        group_count = cnt[inv].astype(float)
        n_nodes += len(uniq)

        # children: reflected rays stay on their side; transmitted rays cross (unless TIR)
        refl = hit
        p[refl] = q + 1e-9 * d_r
        d[refl] = d_r
        ray_parent[refl] = node_id
        ray_branch[refl] = 0
        ray_count_parent[refl] = group_count
        new_active = [refl]
        trans_ok = ~tir
        if np.any(trans_ok):
            # transmitted copies of the rays
            src = np.flatnonzero(trans_ok)
            dt = d_t[src]
            crosses_to_outer = (~ins_h[src]) != wafer_is_lower  # lands in the outer medium
            n_new = src.size
            base = len(d)
            p = np.concatenate([p, q[src] + 1e-9 * dt])
            d = np.concatenate([d, dt])
            inside = np.concatenate([inside, ~ins_h[src]])
            rid = np.concatenate([rid, rid[hit[src]]])
            ray_parent = np.concatenate([ray_parent, node_id[src]])
            ray_branch = np.concatenate([ray_branch, np.ones(n_new, dtype=np.int64)])
            ray_count_parent = np.concatenate([ray_count_parent, group_count[src]])
            t_idx = base + np.arange(n_new)
            if outer_lossy and np.any(crosses_to_outer):
                lost = t_idx[crosses_to_outer]
                add_leaves(lost, np.zeros(lost.size, dtype=bool), ray_count_parent[lost])
                t_idx = t_idx[~crosses_to_outer]
            new_active.append(t_idx)
        inside[refl] = ins_h
        active = np.concatenate(new_active)

    cat = lambda cols, dt: np.concatenate(cols).astype(dt) if cols else np.zeros(0, dtype=dt)  # noqa: E731
    return Tree(
        n_roots=len(roots), root=cat(node_cols["root"], np.int64), parent=cat(node_cols["parent"], np.int64),
        branch=cat(node_cols["branch"], np.int64), wafer_side=cat(node_cols["wafer_side"], bool),
        angle=cat(node_cols["angle"], np.int64), frac=cat(node_cols["frac"], float),
        tir=cat(node_cols["tir"], bool), depth_slices=tuple(slices),
        leaf_parent=cat(leaf_cols["parent"], np.int64), leaf_root=cat(leaf_cols["root"], np.int64),
        leaf_branch=cat(leaf_cols["branch"], np.int64),
        leaf_dest_wafer=cat(leaf_cols["dest"], bool), leaf_bin=cat(leaf_cols["bin"], np.int64),
        leaf_frac=cat(leaf_cols["frac"], float),
        leaf_fine=cat(leaf_cols["fine"], np.int64) if fine is not None else None,
    )


def _dirs(theta_rad, phi_rad, up: bool):
    st = np.sin(theta_rad)
    return np.column_stack([st * np.cos(phi_rad), st * np.sin(phi_rad),
                            (1.0 if up else -1.0) * np.cos(theta_rad)])


def incidence_roots(theta_deg: float, n_rays: int, seed: int = 1):
    """One root: rays from the outer medium at polar angle ``theta_deg``, azimuths and positions
    stratified (fixed seed). Returns [(directions, positions)]."""
    rng = np.random.default_rng(seed)
    m = int(np.ceil(np.sqrt(n_rays)))
    u = (np.arange(m * m) + rng.random(m * m)) / (m * m)
    perm = rng.permutation(m * m)
    xy = np.column_stack([((np.arange(m * m) % m) + rng.random(m * m)) / m,
                          ((np.arange(m * m) // m) + rng.random(m * m)) / m])
    phi = 2 * np.pi * u[perm]
    theta = np.full(m * m, np.radians(theta_deg))
    return [(_dirs(theta, phi, up=False), xy)]


def bin_roots(bins: Bins, n_per_bin: int, seed: int = 1, which=None):
    """One root per direction bin (or per bin listed in ``which``): rays from the wafer,
    Lambertian-weighted (uniform in sin^2 theta) within the bin's polar range, uniform in its
    azimuth range and in position. The four coordinates are a scrambled Sobol sequence per bin
    (fixed seed): with independent random positions, 32 rays per bin left a sampling noise in
    the matrices that the many passes of a weakly absorbing wafer turn into a bias (0.25
    mA/cm^2 in the transmission of a bare 200 um wafer, see tests/test_optics_texture.py)."""
    from scipy.stats import qmc

    edges = np.radians(bins.edges_deg)
    width = np.pi / 4 / bins.n_phi
    out = []
    for k in range(bins.n) if which is None else which:
        i, j = divmod(int(k), bins.n_phi)
        s2 = np.sin(edges[i:i + 2]) ** 2
        q = qmc.Sobol(4, scramble=True, seed=seed * 1_000_003 + int(k)).random(n_per_bin)
        theta = np.arcsin(np.sqrt(s2[0] + (s2[1] - s2[0]) * q[:, 0]))
        phi = (j + q[:, 1]) * width
        if bins.n_phi == 1:  # no azimuth kept: sample all of them
            phi = phi * 8
        out.append((_dirs(theta, phi, up=True), q[:, 2:]))
    return out


def flat_tree(kind: str, root_cos: np.ndarray, from_wafer: bool, ratio: float, bins: Bins,
              root_phi_deg: np.ndarray | None = None) -> Tree:
    """Tree of a planar or Lambertian surface: one hit per root at its own angle.

    root_cos : [K] cos of each root's polar angle in its incident medium; root_phi_deg : [K]
    azimuths (default 0). Planar: specular reflection and Snell refraction keep the azimuth;
    Lambertian: both go out Lambertian.
    """
    root_cos = np.asarray(root_cos, dtype=float)
    phi = np.radians(np.zeros(root_cos.size) if root_phi_deg is None else np.asarray(root_phi_deg, dtype=float))
    k = root_cos.size
    ang = _angle_index(root_cos)
    sin_i = np.sqrt(1 - root_cos ** 2)
    sin_t = sin_i * (ratio if from_wafer else 1.0 / ratio)  # ratio = n_wafer / n_outer
    tir = sin_t >= 1.0
    cos_t = np.sqrt(np.clip(1 - sin_t ** 2, 0.0, None))
    nodes = np.arange(k)
    lp, lr, lb, ld, lbin, lf = [], [], [], [], [], []

    def leaf(parent, branch, dest, bin_, frac):
        lp.append(parent); lr.append(np.full(parent.size, -1)); lb.append(np.full(parent.size, branch))  # noqa: E702
        ld.append(np.full(parent.size, dest)); lbin.append(bin_); lf.append(frac)  # noqa: E702

    for branch, dest_wafer, cos_out, keep in ((0, from_wafer, root_cos, np.ones(k, bool)),
                                              (1, not from_wafer, cos_t, ~tir)):
        par = nodes[keep]
        if not dest_wafer:
            leaf(par, branch, False, np.zeros(par.size, dtype=np.int64), np.ones(par.size))
        elif kind == "planar":
            dirs = _dirs(np.arccos(np.clip(cos_out[keep], 0, 1)), phi[keep], up=True)
            leaf(par, branch, True, bins.index(dirs), np.ones(par.size))
        else:
            p = bins.lambertian_fractions()
            leaf(np.repeat(par, bins.n), branch, True, np.tile(np.arange(bins.n), par.size), np.tile(p, par.size))
    cat = lambda x, dt: np.concatenate(x).astype(dt)  # noqa: E731
    return Tree(
        n_roots=k, root=nodes.copy(), parent=np.full(k, -1), branch=np.full(k, -1),
        wafer_side=np.full(k, from_wafer), angle=ang, frac=np.ones(k), tir=tir,
        depth_slices=(slice(0, k),), leaf_parent=cat(lp, np.int64), leaf_root=cat(lr, np.int64),
        leaf_branch=cat(lb, np.int64), leaf_dest_wafer=cat(ld, bool), leaf_bin=cat(lbin, np.int64),
        leaf_frac=cat(lf, float),
    )
