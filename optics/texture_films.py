"""Thin films on the local-angle grids of a textured interface (``optics.redistribution``).

The films on a facet are a planar coherent stack; each design solves them once per side with our
TMM (``optics.tmm.unpolarized_rta``, s and p averaged) on a coarse grid of local angles for all
wavelengths in one vectorised call, and interpolates R and T to the fine angle grid the facet-hit
trees use (``optics.texture.ANGLE_STEP_DEG``). From the outer medium the grid is uniform in theta;
from the wafer it is uniform in a coordinate that is smooth across the critical angle
(``u_of_s``). Film absorptance is taken on the coarse grid with the transposed interpolation
weights, so R + T + A = 1 holds at every fine angle to round-off.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from .texture import ANGLE_STEP_DEG, N_FINE
from .texture_trees import as_slice
from .tmm import unpolarized_rta

S_MAX = np.sin(np.radians(89.5))


def u_of_s(s, s_c):
    """Interpolation coordinate on the wafer side: u in [0, 1] is the cosine deficit
    1 - cos(theta_out) of the transmitted wave inside the escape cone, u in [1, 2] the square root
    of the distance beyond it; R, T and A are smooth in u where they have square-root edges in
    sin(theta) at the critical angle."""
    s_c = np.minimum(s_c, S_MAX)
    inside = np.clip(s / s_c, 0.0, 1.0)
    beyond = np.clip((s - s_c) / np.maximum(S_MAX - s_c, 1e-12), 0.0, None)
    return np.where(s <= s_c, 1.0 - np.sqrt(1.0 - inside ** 2), 1.0 + np.sqrt(beyond))


def wafer_grid(s_c: np.ndarray, opts, n_cone: int | None = None, n_tir: int | None = None) -> np.ndarray:
    """sin(theta) nodes [K, W] on the wafer side, uniform in ``u_of_s``: ``n_cone`` (default
    ``opts.n_cone_angles``) up to the critical s_c(lambda) (included), then ``n_tir`` (default
    ``opts.n_tir_angles``) up to 89.5 deg (``opts``: an ``optics.redistribution.TextureOptions``)."""
    n_cone = opts.n_cone_angles if n_cone is None else n_cone
    n_tir = opts.n_tir_angles if n_tir is None else n_tir
    s_c = np.minimum(s_c, S_MAX)
    if np.all(s_c >= S_MAX):  # no critical angle (lossy or denser outer medium): all nodes in the cone
        u = np.linspace(0.0, 1.0, n_cone + n_tir)[:, None]
        return s_c[None] * np.sqrt(1.0 - (1.0 - u) ** 2)
    u = np.linspace(0.0, 1.0, n_cone)[:, None]
    v = np.linspace(0.0, 1.0, n_tir + 1)[1:, None]
    cone = s_c[None] * np.sqrt(1.0 - (1.0 - u) ** 2)
    tir = s_c[None] + v ** 2 * (S_MAX - s_c[None])
    return np.concatenate([cone, tir])


def interp_outer(grid_deg: np.ndarray) -> np.ndarray:
    """Linear interpolation from the outer grid (theta, deg) to the fine angles, the same at every
    wavelength: a dense [F, K] matrix (``to_fine``)."""
    theta = np.arange(N_FINE) * ANGLE_STEP_DEG
    i0 = np.clip(np.searchsorted(grid_deg, theta, side="right") - 1, 0, grid_deg.size - 2)
    f = np.clip((theta - grid_deg[i0]) / (grid_deg[i0 + 1] - grid_deg[i0]), 0.0, 1.0)
    m = np.zeros((N_FINE, grid_deg.size))
    rows = np.arange(N_FINE)
    np.add.at(m, (rows, i0), 1 - f)
    np.add.at(m, (rows, i0 + 1), f)
    return m


_INTERP: dict[bytes, sparse.csr_matrix] = {}
_MAX_INTERP = 16


def interp_wafer(s_grid: np.ndarray, s_c: np.ndarray) -> sparse.csr_matrix:
    """Linear interpolation (in ``u_of_s``) from the wafer-side grid s_grid [K, W] to the fine
    angles, different at every wavelength: a sparse [F W, K W] matrix, two entries a row
    (``to_fine``).

    It depends on the wafer and outer indices only, so every design of a study shares it: it is
    cached."""
    s_grid = np.ascontiguousarray(s_grid, dtype=float)
    s_c = np.ascontiguousarray(s_c, dtype=float)
    key = s_grid.tobytes() + b"\0" + s_c.tobytes() + repr(s_grid.shape).encode()
    hit = _INTERP.get(key)
    if hit is not None:
        return hit
    s = np.sin(np.radians(np.arange(N_FINE) * ANGLE_STEP_DEG))[:, None]
    k, n_w = s_grid.shape
    u_nodes = u_of_s(s_grid, s_c[None])
    u = u_of_s(np.minimum(s, S_MAX), s_c[None])
    i0 = np.clip((u_nodes[None, :, :] <= u[:, None, :]).sum(axis=1) - 1, 0, k - 2)
    lo = np.take_along_axis(u_nodes, i0, 0)
    hi = np.take_along_axis(u_nodes, i0 + 1, 0)
    f = np.clip((u - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
    cols = i0 * n_w + np.arange(n_w)  # [F, W] into the flattened [K, W]
    m = sparse.csr_matrix((np.stack([1 - f, f], axis=-1).ravel(), np.stack([cols, cols + n_w], axis=-1).ravel(),
                           np.arange(0, 2 * N_FINE * n_w + 1, 2)), shape=(N_FINE * n_w, k * n_w))
    if len(_INTERP) >= _MAX_INTERP:
        _INTERP.pop(next(iter(_INTERP)))
    _INTERP[key] = m
    return m


def to_fine(coarse, interp):
    """coarse [D, K, W] -> fine [D, F, W] by an interpolation of ``interp_outer`` or
    ``interp_wafer`` (a product with it is 10-20x faster than gathering and summing the two
    neighbours of every fine angle)."""
    if isinstance(interp, np.ndarray):
        return interp @ coarse
    n_d, k, n_w = coarse.shape
    return (interp @ coarse.reshape(n_d, k * n_w).T).T.reshape(n_d, -1, n_w)


def to_coarse(fine, interp):
    """Transpose of ``to_fine``: fine weights [D, F, W] -> coarse [D, K, W]."""
    if isinstance(interp, np.ndarray):
        return interp.T @ fine
    n_d, n_f, n_w = fine.shape
    return (interp.T @ fine.reshape(n_d, n_f * n_w).T).T.reshape(n_d, -1, n_w)


def _last_axis_put(cols: np.ndarray, rows, n_w: int):
    """A writer ``put(dst, values)`` of values [..., len(cols)] into dst [..., n_w] at the last-axis
    indices ``cols`` and the flattened leading rows ``rows`` (a count for all rows in order, or
    row indices): a slice when ``cols`` is one contiguous run, else flat indices (numpy's fancy
    indexing along the last axis is ~30x slower on the hot path)."""
    all_rows = isinstance(rows, (int, np.integer))
    sl = as_slice(cols)
    if isinstance(sl, slice):
        if all_rows:
            def put(dst, values):
                dst.reshape(rows, n_w)[:, sl] = values.reshape(rows, cols.size)
        else:
            def put(dst, values):
                dst.reshape(-1, n_w)[rows, sl] = values.reshape(rows.size, cols.size)
        return put
    r = np.arange(rows) if all_rows else rows
    flat = (r[:, None] * n_w + cols).reshape(-1)

    def put(dst, values):
        dst.reshape(-1)[flat] = values.reshape(-1)
    return put


class FilmSide:
    """Film coefficients seen from one side of an interface, for every design of the batch.

    Where the wafer transmits (``clr``) the films are solved on an interpolation grid that
    serves any local angle; where it is opaque (``opq``) only the first incidence matters and
    they are solved exactly at the local angles its tree uses (``used``, fine-grid indices).
    ``R``, ``T`` [D, F, W] on the fine angles; ``absorb`` turns hit weights into film absorptance.
    With ``solve=False`` the films are solved later by ``FilmSide.solve(side, ...)``, which solves
    several sides with the same number of films and designs in one TMM call.
    """

    def __init__(self, n_inc, films, d, n_exit, wl, clr, xi_c, interp_c, opq, used, xi_u, flip, solve=True):
        n_d, n_l, n_w = films.shape
        self._sl = sl = slice(None, None, -1) if flip else slice(None)
        films, d = films[:, sl], d[:, sl]
        self.R = np.zeros((n_d, N_FINE, n_w))
        self.T = np.zeros((n_d, N_FINE, n_w))
        self.clr, self.opq, self.used, self.interp = clr, opq, used, interp_c
        self.A_c = self.A_u = None
        self.n_l = n_l
        # media [N, D, W] and 2 pi d / lambda; the (wavelengths, xi [K, Ws]) to solve
        self._n = np.concatenate([n_inc[:, None], films, n_exit[:, None]], axis=1).transpose(1, 0, 2)
        dd = np.concatenate([np.zeros((n_d, 1)), d, np.zeros((n_d, 1))], axis=1).T  # [N, D]
        self._k0d = (2 * np.pi * dd)[:, :, None] / wl
        self._jobs = []
        if clr.size:
            self._jobs.append(("c", clr, xi_c))
        if opq.size and used.size:
            self._jobs.append(("u", opq, xi_u))
        if solve:
            FilmSide.solve(self)

    @staticmethod
    def solve(*sides: "FilmSide") -> None:
        """Solve the films of these sides (constructed with ``solve=False``): one
        ``unpolarized_rta`` call for all their (wavelength, angle) pairs where they share the
        number of media and of designs, else one per side."""
        groups: dict[tuple, list] = {}
        for side in sides:
            groups.setdefault(side._n.shape[:2], []).append(side)
        for members in groups.values():
            take, xi2, offset = [], [], 0
            for side in members:
                for _, w_sel, xi in side._jobs:
                    take.append(np.broadcast_to(offset + w_sel, xi.shape).ravel())
                    xi2.append((xi * xi).ravel())
                offset += side._n.shape[2]
            if not take:
                continue
            n = np.concatenate([s._n for s in members], axis=2)
            k0d = np.concatenate([np.broadcast_to(s._k0d, s._n.shape) for s in members], axis=2)
            R, T, A = unpolarized_rta(n, k0d, np.concatenate(xi2), np.concatenate(take))
            lo = 0
            for side in members:
                for kind, w_sel, xi in side._jobs:
                    hi = lo + xi.size
                    side._store(kind, *(x[..., lo:hi].reshape(x.shape[:-1] + xi.shape) for x in (R, T, A)))
                    lo = hi
                side._jobs = []

    def _store(self, kind, r, t, a):
        """Keep the solution of one job: r, t [D, K, Ws], a [L, D, K, Ws] (films in solved order)."""
        a = np.moveaxis(a, 0, 1)[:, self._sl]  # [D, L, K, Ws], stack order
        n_d, n_f, n_w = self.R.shape
        if kind == "c":
            put = _last_axis_put(self.clr, n_d * n_f, n_w)
            put(self.R, to_fine(r, self.interp))
            put(self.T, to_fine(t, self.interp))
            self.A_c = a
        else:
            # flat indices of (design, used angle, opaque wavelength): numpy's fancy indexing
            # through np.ix_ / along the last axis is ~30x slower
            rows = (np.arange(n_d)[:, None] * n_f + self.used).reshape(-1)
            put = _last_axis_put(self.opq, rows, n_w)
            put(self.R, r)
            put(self.T, t)
            self.A_u = a

    def absorb(self, hits):
        """Film absorptance [D, L, W] from the hit weights [D, F, W] of this side."""
        n_d, _, n_w = hits.shape
        out = np.zeros((n_d, self.n_l, n_w))
        if not self.n_l:
            return out
        if self.A_c is not None:
            c = as_slice(self.clr)
            h = to_coarse(hits[:, :, c] if isinstance(c, slice) else np.take(hits, c, axis=2),
                          self.interp)
            out[:, :, c] = np.einsum("dkw,dlkw->dlw", h, self.A_c)
        if self.A_u is not None:
            c = as_slice(self.opq)
            h = np.take(hits, self.used, axis=1)
            h = h[:, :, c] if isinstance(c, slice) else np.take(h, c, axis=2)
            out[:, :, c] = np.einsum("duw,dluw->dlw", h, self.A_u)
        return out

    def fine_absorptance(self) -> np.ndarray:
        """Absorptance of each film per hit [D, L, F, Wc] at the fine angles where the wafer
        transmits: ``absorb(hits)`` is the hit-weighted sum of these (``to_coarse`` is the
        transpose of ``to_fine``)."""
        n_d, n_l, k, n_c = self.A_c.shape
        fine = to_fine(self.A_c.reshape(n_d * n_l, k, n_c), self.interp)
        return fine.reshape(n_d, n_l, N_FINE, n_c)
