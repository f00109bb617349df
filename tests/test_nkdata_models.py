"""Dispersion models: Kramers-Kronig consistency, Bruggeman limits, PbS sizing, edge shifts."""
import numpy as np
import pytest

from nkdata import models as M
from nkdata import tunable as T
from nkdata.library import LITERATURE_MODELS, REFERENCE_FITS

# Wide log-spaced grid so that the KK integral sees the full eps2 (tails decay as E^-3 or faster).
E_GRID = np.geomspace(1e-4, 300.0, 40001)
E_CHECK = np.linspace(0.5, 4.5, 17)
KK_TOL_EPS1 = 0.01  # stated tolerance: |eps1_model - eps_inf - KK[eps2]| <= 0.01


def _kk_residual(eps_func, eps_inf):
    eps2 = eps_func(E_GRID).imag
    kk = M.kk_matrix(E_CHECK, E_GRID) @ eps2
    return np.max(np.abs(eps_func(E_CHECK).real - eps_inf - kk))


@pytest.mark.parametrize("term", [
    lambda E: M.tauc_lorentz_eps(E, 100.0, 3.5, 2.0, 1.6),
    lambda E: M.tauc_lorentz_eps(E, 20.0, 4.1, 1.4, 2.6),
    lambda E: M.gaussian_eps(E, 2.0, 3.0, 0.5),
    lambda E: M.lorentz_eps(E, 1.0, 3.0, 0.3),
    lambda E: M.drude_eps(E, 1.4, 0.15),
])
def test_single_terms_obey_kramers_kronig(term):
    assert _kk_residual(term, 0.0) < KK_TOL_EPS1


def test_kk_detects_inconsistent_model():
    # a Gaussian eps2 with eps1 shifted by a constant is caught (the check can fail)
    bad = lambda E: M.gaussian_eps(E, 2.0, 3.0, 0.5) + 0.1
    assert _kk_residual(bad, 0.0) > 5 * KK_TOL_EPS1


@pytest.mark.parametrize("name", sorted({**REFERENCE_FITS, **LITERATURE_MODELS}))
def test_catalogued_models_obey_kramers_kronig(name):
    model = {**REFERENCE_FITS, **LITERATURE_MODELS}[name]["model"]
    assert _kk_residual(model.eps, model.eps_inf) < KK_TOL_EPS1


def test_kk_loop_and_matrix_agree():
    eps2 = M.gaussian_eps(E_GRID[::20], 1.0, 2.0, 0.4).imag
    a = M.kk_eps1(E_CHECK, E_GRID[::20], eps2)
    b = M.kk_matrix(E_CHECK, E_GRID[::20]) @ eps2
    assert np.allclose(a, b, atol=1e-9)


def test_pbs_film_obeys_kramers_kronig():
    f = lambda E: T.pbs_qd_eps(E, 1.2)
    eps_inf = T.pbs_qd_eps(np.array([1e5]), 1.2).real[0]
    assert _kk_residual(f, eps_inf) < KK_TOL_EPS1


def test_edge_shift_keeps_kramers_kronig():
    base_model = REFERENCE_FITS["FACsPbIBr_bulk"]["model"]
    es = T.EdgeShiftModel(base_model.eps, 0.6, 4.2, native_guess_ev=1.70)
    eps_in = es.shifted_eps(-0.3)
    # full eps2: shifted inside the model grid, base outside (the shift is zero there)
    e2 = base_model.eps(E_GRID).imag
    inside = (E_GRID >= es.E[0]) & (E_GRID <= es.E[-1])
    e2[inside] = np.interp(E_GRID[inside], es.E, eps_in.imag)
    check = np.linspace(0.8, 4.0, 9)
    kk = M.kk_eps1(check, E_GRID, e2) + base_model.eps_inf
    assert np.max(np.abs(np.interp(check, es.E, eps_in.real) - kk)) < 0.02
    # and the shift really moved the edge: the unshifted eps1 differs by far more
    assert np.max(np.abs(np.interp(check, es.E, es.eps_b.real) - kk)) > 0.1


def test_bruggeman_limits_and_symmetry():
    ea, eb = 6.0 + 1.0j, 2.1 + 0.0j
    assert np.isclose(M.bruggeman_eps(ea, eb, 1.0), ea)
    assert np.isclose(M.bruggeman_eps(ea, eb, 0.0), eb)
    assert np.isclose(M.bruggeman_eps(ea, eb, 0.3), M.bruggeman_eps(eb, ea, 0.7))
    e = M.bruggeman_eps(ea, eb, 0.5)
    assert eb.real < e.real < ea.real and e.imag > 0
    # satisfies the defining equation
    f = 0.4
    e = M.bruggeman_eps(ea, eb, f)
    assert abs(f * (ea - e) / (ea + 2 * e) + (1 - f) * (eb - e) / (eb + 2 * e)) < 1e-12
    with pytest.raises(ValueError):
        M.bruggeman_eps(ea, eb, 1.2)


def test_eps_to_nk_branch():
    eps = np.array([-20 + 1j, 4 + 0.5j, 2.25 + 0j, -1 + 1e-9j])
    nk = M.eps_to_nk(eps)
    assert np.all(nk.real >= 0) and np.all(nk.imag >= 0)
    assert np.allclose(nk**2, eps)


def test_cauchy_urbach():
    wl = np.linspace(300, 1200, 50)
    nk = M.cauchy_urbach_nk(wl, 1.9, 0.01, 0.0, 0.05, 3.6, 0.1)
    assert np.all(np.diff(nk.real) < 0)  # normal dispersion
    assert np.all(nk.imag >= 0) and np.all(np.diff(nk.imag) <= 0)
    assert np.isclose(M.urbach_k(HC := M.HC_EV_NM / 3.6, 0.05, 3.6, 0.1), 0.05)
    # one Urbach energy below the gap, k drops by e
    assert np.isclose(M.urbach_k(M.HC_EV_NM / 3.5, 0.05, 3.6, 0.1), 0.05 / np.e)


def test_drude_plasma_energy():
    # N = 1e21 cm^-3, m* = m0: hbar*omega_p = 1.175 eV (standard value)
    assert np.isclose(M.drude_plasma_energy_ev(1e21, 1.0), 1.1747, rtol=1e-3)


def test_tauc_lorentz_rejects_bad_parameters():
    with pytest.raises(ValueError):
        M.tauc_lorentz_eps(np.array([2.0]), 10.0, 1.0, 3.0, 0.5)  # C > 2 E0


def test_moreels_sizing_curve():
    # Moreels et al. 2009: d = 3 nm -> E = 0.41 + 1/(0.0252*9 + 0.849) = 1.339 eV
    assert np.isclose(T.moreels_peak_ev(3.0), 0.41 + 1 / (0.0252 * 9 + 0.283 * 3))
    d = np.linspace(2.5, 10, 20)
    assert np.allclose(T.moreels_diameter_nm(T.moreels_peak_ev(d)), d)
    assert np.all(np.diff(T.moreels_peak_ev(d)) < 0)  # larger dots, smaller gap
    with pytest.raises(ValueError):
        T.moreels_diameter_nm(0.3)


def test_pbs_peak_and_size_vs_gap():
    gaps = np.array([0.8, 1.0, 1.2, 1.5])
    peaks = np.array([T.pbs_exciton_peak_ev(g) for g in gaps])
    sizes = np.array([T.pbs_diameter_nm(g) for g in gaps])
    assert np.all(peaks > gaps) and np.all(peaks - gaps < 0.15)  # 1S peak sits just above the onset
    assert np.all(np.diff(sizes) < 0) and 2.5 < sizes[-1] < sizes[0] < 12.0


def test_onset_of_ideal_direct_edge():
    # alpha E ~ sqrt(E - Eg): (alpha E)^2 is linear, the tangent gives Eg exactly
    E = np.linspace(1.2, 2.2, 1001)
    alpha = np.sqrt(np.clip(E - 1.63, 0, None)) / E
    assert abs(T.absorption_onset_ev(E, alpha, 1.6) - 1.63) < 2e-3
