"""optics.multipass: the summed multiple passes against a direct solve, on both of its paths."""
import numpy as np
import pytest

from optics.multipass import MAX_SERIES_TERMS, multiple_passes, series_terms


def _case(p_scale, seed=0, n=12, n_w=5):
    rng = np.random.default_rng(seed)
    m = rng.random((2, n_w, n, n))
    m *= rng.uniform(0.5, 1.0, (2, n_w, 1, n)) / m.sum(-2, keepdims=True)  # column sums <= 1
    p = p_scale * rng.uniform(0.2, 1.0, (1, n_w, n))
    v = rng.random((1, n_w, n))
    return m[:1], m[1:], p, v / v.sum(-1, keepdims=True)


@pytest.mark.parametrize("p_scale", [1e-6, 1e-2, 0.3, 0.999])
def test_matches_direct_solve(p_scale):
    mf, mr, p, v = _case(p_scale)
    loop = mf @ (p[..., :, None] * mr) * p[..., None, :]
    direct = np.linalg.solve(np.eye(v.shape[-1]) - loop, v[..., None])[..., 0]
    x = multiple_passes(mf, mr, p, v)
    np.testing.assert_allclose(x, direct, rtol=0, atol=1e-13)


def test_series_bound():
    """The remainder of the truncated series is below the tolerance at the number of terms chosen
    (and not at one term fewer), for the worst case of the bound: L = rho * identity."""
    for rho in (1e-5, 1e-3, 0.02):
        k = int(series_terms(rho, 1e-14))
        assert k <= MAX_SERIES_TERMS
        assert rho ** k / (1 - rho) <= 1e-14 < rho ** (k - 1) / (1 - rho)
    assert np.isinf(series_terms(1.0)) and series_terms(0.0) == 1


@pytest.mark.parametrize("shared_p", [True, False])
def test_batch_of_designs_mixed_paths(shared_p):
    """Several designs with their own front matrices against one shared rear, wavelengths on both
    paths in no particular order (series and direct solve, non-contiguous index sets), and a
    front matrix given as a view of a [W, D, n, n] array: every design matches its own direct
    solve."""
    rng = np.random.default_rng(3)
    n, n_w, n_d = 10, 9, 3
    m = rng.random((n_d + 1, n_w, n, n))
    m *= rng.uniform(0.6, 1.0, (n_d + 1, n_w, 1, n)) / m.sum(-2, keepdims=True)
    scale = np.array([1e-6, 0.999, 0.3, 1e-3, 0.99, 1e-8, 0.5, 0.9, 1e-2])[:, None]
    p = scale * rng.uniform(0.3, 1.0, (1 if shared_p else n_d, n_w, n))
    p = np.broadcast_to(p, (n_d, n_w, n)).copy()
    v = rng.random((n_d, n_w, n))
    mf = np.moveaxis(np.ascontiguousarray(np.moveaxis(m[:n_d], 0, 1)), 0, 1)  # [D, W, n, n] view
    mr = m[n_d:]
    x = multiple_passes(mf, mr, p, v)
    cache = {}
    for _ in range(2):  # the rear's products cached on the first call, reused on the second
        np.testing.assert_array_equal(multiple_passes(mf, mr, p, v, cache=cache), x)
    assert cache
    for dd in range(n_d):
        loop = mf[dd] @ (p[dd][..., :, None] * mr[0]) * p[dd][..., None, :]
        direct = np.linalg.solve(np.eye(n) - loop, v[dd][..., None])[..., 0]
        np.testing.assert_allclose(x[dd], direct, rtol=0, atol=1e-12)
