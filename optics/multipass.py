"""Multiple passes through an incoherent wafer between two redistribution matrices.

With ``x`` the downward flux per direction bin at the top of the wafer, ``v`` what the front
sends down on first incidence, ``M_front`` / ``M_rear`` the redistribution matrices of the two
surfaces (light from the wafer back into the wafer) and ``P`` the single-pass transmission of
each bin, the passes sum to

    x = v + M_front P M_rear P x.

The round trip ``L = M_front P M_rear P`` maps flux to flux, so its induced 1-norm (largest
column sum) bounds its gain: ``||L||_1 <= max_j p_j c_front_j * max_j p_j c_rear_j`` with ``c``
the column sums of the matrices (each <= 1: no surface returns more light than it receives).
Where that bound ``rho`` is small (the wafer absorbs most of what it carries in one round trip)
the series ``sum_k L^k v`` is summed with matrix-vector products, as many terms K as make its
remainder ``rho^K / (1 - rho) ||v||_1`` smaller than ``SERIES_TOL``; elsewhere (weak
absorption, many passes) the system is solved directly. Both give x to round-off, so
R + T + sum(A) = 1 to ~1e-14 either way; the series costs O(K n^2) per wavelength instead of the
O(n^3) of forming L and factorising I - L.

References
----------
Tucher et al., Opt. Express 23, A1720 (2015) (OPTOS: the matrix formulation of the passes).
"""
from __future__ import annotations

import numpy as np

from .texture_trees import as_slice

#: absolute bound on the truncation error of the series (the flux entering is <= 1)
SERIES_TOL = 1e-14
#: a wavelength whose series needs more terms than this is solved directly
MAX_SERIES_TERMS = 10


def _matvec(m, v):
    return np.einsum("...ij,...j->...i", m, v)


def series_terms(rho: np.ndarray, tol: float = SERIES_TOL) -> np.ndarray:
    """Terms K of the series with remainder rho^K / (1 - rho) <= tol (inf where rho >= 1)."""
    rho = np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.ceil(np.log(tol * (1.0 - rho)) / np.log(rho))
    k = np.where(rho <= 0.0, 1.0, k)
    return np.where(rho < 1.0, np.maximum(k, 1.0), np.inf)


def multiple_passes(m_front: np.ndarray, m_rear: np.ndarray, p: np.ndarray, v: np.ndarray,
                    cache: dict | None = None) -> np.ndarray:
    """Solve x = v + M_front diag(p) M_rear diag(p) x per design and wavelength.

    Parameters
    ----------
    m_front : [D, W, n, n] (out bin, in bin), fraction of the flux (a view of a [W, D, n, n]
        array is fastest: the products against a shared rear need no copy).
    m_rear : [D, W, n, n] or [1, W, n, n] (shared by the designs).
    p : [D, W, n], single-pass transmission of each bin, in [0, 1].
    v : [D, W, n], flux entering.
    cache : optional dict kept with ``m_rear`` (the caller's, emptied when the rear changes): the
        rear's column sums and P M_rear P are reused by later calls with the same passes.

    Returns
    -------
    x : [D, W, n].
    """
    cache = {} if cache is None else cache
    c_rear = cache.get("c_rear")
    if c_rear is None:
        c_rear = cache["c_rear"] = m_rear.sum(-2)
    rho = (p * m_front.sum(-2)).max(-1) * (p * c_rear).max(-1)  # [D, W]
    terms = series_terms(rho).max(axis=0)  # [W]
    x = np.empty(np.broadcast_shapes(v.shape, p.shape))
    easy = terms <= MAX_SERIES_TERMS
    e, h = np.flatnonzero(easy), np.flatnonzero(~easy)
    if e.size:
        se = as_slice(e)  # strongly absorbed wavelengths: usually one run (views)
        mf, mr, pe = m_front[:, se], m_rear[:, se], p[:, se]
        t_e = terms[e]
        acc = v[:, se].copy()
        s, lo = acc, 0  # s: the last term over wavelengths lo..lo + s.shape[1] of the run
        for k in range(1, int(t_e.max())):
            # the wavelengths still summing; the ones between them converged already and take
            # a few more terms (only closer to the limit)
            act = np.flatnonzero(t_e > k)
            a, b = int(act[0]), int(act[-1]) + 1
            sl = slice(a, b)
            s = _matvec(mf[:, sl], pe[:, sl] * _matvec(mr[:, sl], pe[:, sl] * s[:, a - lo:b - lo]))
            lo = a
            acc[:, sl] += s
        x[:, se] = acc
    if h.size:
        x[:, as_slice(h)] = _solve(m_front, m_rear, p, v, as_slice(h), cache)
    return x


def _solve(m_front, m_rear, p, v, h, cache):
    """x = (I - M_front P M_rear P)^-1 v at the wavelengths h (a slice or indices), by LU."""
    n_d, n = v.shape[0], v.shape[-1]
    ph = p[:, h]
    shared = m_rear.shape[0] == 1 and (n_d == 1 or np.array_equal(ph, np.broadcast_to(ph[:1], ph.shape)))
    if shared:
        # rear and passes shared by the designs: P M_rear P once per wavelength. The products stay
        # n x n (one [D n, n] product per wavelength would be fewer calls, but big enough for
        # OpenBLAS to start threads, which on a busy machine made it 10-50x slower)
        key = ((h.start, h.stop) if isinstance(h, slice) else h.tobytes(), ph[0].tobytes())
        q = cache.get(key)
        if q is None:
            q = m_rear[0, h] * ph[0, :, :, None]
            q *= ph[0, :, None, :]
            if len(cache) > 8:  # a few sets of passes per rear (studies rarely vary the wafer)
                cache.clear()
            cache[key] = q
        loop = np.moveaxis(m_front, 1, 0)[h] @ q[:, None]  # [Wh, D, n, n]
        rhs = np.moveaxis(v[:, h], 1, 0)[..., None]  # [Wh, D, n, 1]
    else:
        loop = m_front[:, h] @ (ph[..., :, None] * m_rear[:, h]) * ph[..., None, :]
        rhs = v[:, h, :, None]  # [D, Wh, n, 1]
    np.negative(loop, out=loop)
    loop.reshape(loop.shape[:-2] + (n * n,))[..., :: n + 1] += 1.0  # I - L, in place
    x = np.linalg.solve(loop, rhs)[..., 0]
    return np.moveaxis(x, 0, 1) if shared else x
