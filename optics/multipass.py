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


def multiple_passes(m_front: np.ndarray, m_rear: np.ndarray, p: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Solve x = v + M_front diag(p) M_rear diag(p) x per design and wavelength.

    Parameters
    ----------
    m_front : [D, W, n, n] (out bin, in bin), fraction of the flux.
    m_rear : [D, W, n, n] or [1, W, n, n] (shared by the designs).
    p : [D, W, n], single-pass transmission of each bin, in [0, 1].
    v : [D, W, n], flux entering.

    Returns
    -------
    x : [D, W, n].
    """
    n = v.shape[-1]
    rho = (p * m_front.sum(-2)).max(-1) * (p * m_rear.sum(-2)).max(-1)  # [D, W]
    terms = series_terms(rho)
    easy = np.all(terms <= MAX_SERIES_TERMS, axis=0)
    x = np.empty(np.broadcast_shapes(v.shape, p.shape))
    e, h = np.flatnonzero(easy), np.flatnonzero(~easy)
    if e.size:
        mf, mr, pe = m_front[:, e], m_rear[:, e], p[:, e]
        s = v[:, e]
        acc = s.copy()
        for _ in range(int(terms[:, e].max()) - 1):
            s = _matvec(mf, pe * _matvec(mr, pe * s))
            acc += s
        x[:, e] = acc
    if h.size:
        ph = p[:, h]
        loop = m_front[:, h] @ (ph[..., :, None] * m_rear[:, h]) * ph[..., None, :]
        x[:, h] = np.linalg.solve(np.eye(n) - loop, v[:, h, :, None])[..., 0]
    return x
