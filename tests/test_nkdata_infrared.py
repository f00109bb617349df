"""Infrared range (to >= 1700 nm for PbS-QD bottom cells down to 0.8 eV) and the fast fresh-bandgap path."""
import numpy as np
import pytest

import nkdata
from nkdata import library as L
from nkdata import tunable as T
from nkdata.fitting import rms_nk
from nkdata.models import HC_EV_NM
from nkdata.subgap import extend_below_gap, fit_cauchy_join

FITTED = ("PTAA", "C60", "PCBM", "BCP", "P3HT", "a-Si:H", "MoOx", "PEDOT:PSS", "ZnO")
AFTENIEVA = ("CsPbI3_QD", "CsPbIBr_QD")
WL_IR = np.linspace(300.0, 1700.0, 1401)


def _variants(name):
    yield None
    if name in nkdata.TUNABLE:
        lo, hi = nkdata.TUNABLE[name]
        yield from (lo, 0.5 * (lo + hi), hi)


@pytest.mark.parametrize("name,gap", [(n, g) for n in FITTED + AFTENIEVA + tuple(sorted(nkdata.TUNABLE))
                                      for g in _variants(n)])
def test_reaches_1700_nm_with_n_positive_k_nonnegative(name, gap):
    m = nkdata.get(name, bandgap_ev=gap)
    assert m.wl_max_nm >= 1700.0, name
    nk = m.nk(WL_IR)
    assert np.all(np.isfinite(nk)) and np.all(nk.real > 0) and np.all(nk.imag >= 0), (name, gap)


@pytest.mark.parametrize("name,gap", [(n, g) for n in FITTED + AFTENIEVA for g in _variants(n)])
def test_continuous_across_1200_nm(name, gap):
    # 1200 nm is where the data (Aftenieva) or the fit range (models) ended
    m = nkdata.get(name, bandgap_ev=gap)
    wl = np.linspace(1100.0, 1300.0, 801)  # 0.25-nm steps
    n = m.nk(wl).real
    assert np.max(np.abs(np.diff(n))) < 0.01, (name, gap)
    left, right = m.nk(np.array([1200.0 - 1e-6, 1200.0 + 1e-6]))
    assert abs(right.real - left.real) < 1e-3 and abs(right.imag - left.imag) < 1e-3


def test_aftenieva_continuation_is_the_stated_cauchy_term():
    page = nkdata.load_page("other", "CsPbI3", "Aftenieva")
    m = nkdata.get("CsPbI3_QD")
    assert page.wl_max_nm == pytest.approx(1200.0, abs=1.0) and m.wl_max_nm == 2000.0
    join = L._aftenieva_page()[1]
    assert join.wl_join_nm == 1200.0 and join.k_join == 0.0
    assert join.fit_rms < 0.005  # stated in nkdata.subgap
    wl = np.array([1300.0, 1500.0, 1700.0, 2000.0])
    nk = m.nk(wl)
    lam = wl * 1e-3
    assert np.allclose(nk.real, join.A + join.B / lam**2 + join.C / lam**4)
    assert np.all(nk.imag == 0.0)
    # normal dispersion: n keeps falling slowly below the gap, towards the Cauchy constant
    assert np.all(np.diff(nk.real) < 0) and np.all(nk.real > join.A)
    assert nk.real[-1] > 1.85  # far from any unphysical drop
    # the measured part is untouched
    w = np.linspace(300.0, 1200.0, 91)
    assert np.array_equal(m.nk(w), page.nk(w))
    assert "Cauchy" in m.provenance.notes and "1200" in m.provenance.notes


def test_cauchy_join_recovers_a_cauchy_table_and_urbach_tail():
    A, B, C = 2.0, 0.03, 0.002
    f = lambda wl: A + B / (wl * 1e-3) ** 2 + C / (wl * 1e-3) ** 4 + 0.01j * np.exp((HC_EV_NM / wl - 1.5) / 0.05)
    j = fit_cauchy_join(f, 1000.0, 700.0, urbach_ev=0.05)
    assert (j.A, j.B, j.C) == pytest.approx((A, B, C), rel=1e-6) and j.fit_rms < 1e-9
    g, _ = extend_below_gap(f, 1000.0, 700.0, urbach_ev=0.05)
    wl = np.array([1100.0, 1400.0])
    assert np.allclose(g(wl), f(wl), rtol=1e-9)  # k: same Urbach tail continued
    with pytest.raises(ValueError):
        fit_cauchy_join(f, 1000.0, 1100.0)


def test_fitted_models_note_their_fit_range():
    for name in FITTED:
        notes = nkdata.get(name).provenance.notes
        assert "fitted" in notes and "transparent-region dispersion" in notes, name


def test_zno_model_beyond_its_fit_vs_stelling_page():
    # fitted to the Stelling page at 302-1200 nm (RMS 0.010); the page goes on to 1685 nm
    wl = np.linspace(1200.0, 1684.0, 60)
    assert rms_nk(nkdata.get("ZnO").nk(wl), nkdata.get("ZnO_Stelling").nk(wl)) < 0.04


def test_si_franta_extends_green_2008():
    si, fr = nkdata.get("Si"), nkdata.get("Si_Franta")
    assert si.wl_max_nm == 1450.0 and fr.wl_max_nm >= 1700.0
    assert fr.provenance.doi == "10.1016/j.apsusc.2017.02.021" and "CC0" in fr.provenance.licence
    wl = np.linspace(600.0, 1450.0, 86)
    assert np.max(np.abs(fr.nk(wl) - si.nk(wl))) < 0.01
    assert np.all(fr.nk(np.linspace(1300.0, 1700.0, 9)).imag < 1e-6)  # transparent below the gap


def test_pbs_bottom_cell_at_0p8_ev_has_a_1700_nm_stack():
    # every layer of a PbS-QD bottom cell under a perovskite-QD top cell has data to 1700 nm
    stack = ["CsPbI3_QD", "SnO2", "ZnO", "PbS_QD", "MoOx", "PEDOT:PSS", "PTAA", "C60", "BCP", "Ag", "Au", "IZO",
             "FTO", "NiOx", "Spiro-OMeTAD"]
    pbs = nkdata.get("PbS_QD", bandgap_ev=0.8)
    assert pbs.nk(1500.0).imag > 0.02 and pbs.nk(1700.0).imag < pbs.nk(1500.0).imag
    for name in stack:
        assert nkdata.get(name).wl_max_nm >= 1700.0, name


# ------------------------------------------------------------------ fast fresh-bandgap path
def _shift_models():
    return {"aftenieva": L._aftenieva_shift()[0],
            "qd": L._bulk_shift("FACsPbIBr_bulk", L.PEROVSKITE_QD_FRACTION, 1.70),
            "bulk": L._bulk_shift("FACsPbIBr_bulk", None, 1.70)}


@pytest.mark.parametrize("key,gap", [("aftenieva", 1.7123), ("aftenieva", 2.0377), ("qd", 1.5311),
                                     ("qd", 1.7777), ("bulk", 1.1893)])
def test_row_restricted_kk_equals_full_grid_product(key, gap):
    es = _shift_models()[key]
    f = es.nk_func(gap)
    full = es._nk_from_eps(es.shifted_eps(es.shift_ev(gap)))
    wl = np.concatenate([np.linspace(300.0, 2000.0, 203), [650.3, 777.7, 1234.5]])
    assert np.max(np.abs(f(wl) - full(wl))) < 1e-5
    # any shape, and a returned array the caller changes does not leak into the next call
    a = f(wl.reshape(2, -1))
    assert a.shape == (2, wl.size // 2) and np.allclose(a.ravel(), f(wl))
    a[:] = 0
    assert np.all(f(wl.reshape(2, -1)).real > 0)


@pytest.mark.parametrize("name", sorted(nkdata.TUNABLE))
def test_interpolated_shift_lands_on_the_gap_within_1_mev(name):
    # the shift/peak for a gap comes from onsets measured on 5-meV nodes; check the result directly
    lo, hi = nkdata.TUNABLE[name]
    rng = np.random.default_rng(7)
    for gap in rng.uniform(lo, hi, 5):
        m = nkdata.get(name, bandgap_ev=gap)
        E = np.arange(gap - 0.3, gap + 0.2, 0.001)
        wl = HC_EV_NM / E
        onset = T.absorption_onset_ev(E, 4 * np.pi * m.nk(wl).imag / (wl * 1e-7), gap)
        assert abs(onset - gap) < 0.001, (name, gap, onset)


def test_onset_inverse_interpolates_and_caches_nodes():
    calls = []

    def onset(p):
        calls.append(p)
        return 1.0 + p + 0.3 * p**2  # monotonic, curved

    inv = T.OnsetInverse(onset, lambda gap: gap - 1.0, step=0.005)
    for gap in (1.0, 1.1234, 1.05, 0.91):
        p = inv(gap)
        assert onset(p) == pytest.approx(gap, abs=1e-5)  # linear interpolation error ~ step^2
    n = len(inv.nodes)
    inv(1.1234)
    assert len(inv.nodes) == n  # no new nodes for a gap between known ones


def test_pbs_analytic_path_matches_model():
    f = T.pbs_nk_func(0.95)
    peak = T.pbs_exciton_peak_ev(0.95)
    wl = np.linspace(300.0, 2500.0, 300)
    assert np.allclose(f(wl), T.eps_to_nk(T.pbs_qd_eps(HC_EV_NM / wl, peak)))
    r = f(wl)
    r[:] = 0
    assert np.all(f(wl).real > 0)
