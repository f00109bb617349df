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
