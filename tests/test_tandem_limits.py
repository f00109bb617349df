"""Detailed-balance limits of step absorbers (ASTM G173 global, 300 K, ERE = 1)."""
import numpy as np
import pytest

from tandem import electrical as el
from tandem.limits import best_tandem_pair, sq_limit, step_j0_rad, step_jsc, tandem_limit


@pytest.mark.parametrize("eg, pce", [(1.34, 33.7), (1.12, 33.4), (1.73, 28.55)])
def test_sq_pce(eg, pce):
    assert abs(float(sq_limit(eg).pce_pct) - pce) <= 0.05


def test_sq_figures_at_1p34():
    r = sq_limit(1.34)
    assert abs(float(r.jsc_ma_cm2) - 35.0) < 0.05
    assert abs(float(r.voc_v) - 1.082) < 0.001
    assert abs(float(r.ff_pct) - 88.9) < 0.05


def test_sq_vectorised_and_ere():
    r = sq_limit(np.array([1.1, 1.4, 1.7]))
    assert r.pce_pct.shape == (3,)
    assert np.all(np.diff(r.pce_pct[1:]) < 0)
    low = sq_limit(1.34, ere=1e-3)
    dv = float(sq_limit(1.34).voc_v - low.voc_v)
    assert abs(dv - (-el.thermal_voltage(300.0) * np.log(1e-3))) < 1e-6


def test_j0_series_matches_quadrature():
    # independent check of the closed-form black-body integral against reciprocity weights
    wl = np.linspace(280.0, el.HC_EV_NM / 1.34, 4000)
    j0_quad = el.j0_rad_from_eqe(np.ones(wl.size), wl, 300.0)
    assert abs(j0_quad / step_j0_rad(1.34, 300.0) - 1) < 1e-4


def test_tandem_2t_free_pair():
    pce, top, bot = best_tandem_pair("2T", grid_step_ev=0.02)
    assert abs(pce - 45.7) <= 0.1
    assert abs(top - 1.60) < 0.03 and abs(bot - 0.94) < 0.03


def test_tandem_2t_on_silicon():
    pce, top, _ = best_tandem_pair("2T", bottom_bandgap_ev=1.12, grid_step_ev=0.02)
    assert abs(pce - 45.0) <= 0.1
    assert abs(top - 1.73) < 0.01


def test_tandem_4t_free_pair():
    pce, top, bot = best_tandem_pair("4T", grid_step_ev=0.02)
    assert abs(pce - 46.1) <= 0.1
    # 4T is never below 2T for the same gaps
    assert tandem_limit(top, bot, "4T") >= tandem_limit(top, bot, "2T") - 1e-9


def test_bottom_current_splits_spectrum():
    assert np.isclose(step_jsc(1.12, 1.73) + step_jsc(1.73), step_jsc(1.12))


@pytest.mark.parametrize("bad", [0.2, 5.0, np.nan])
def test_bandgap_out_of_range(bad):
    with pytest.raises(ValueError, match="bandgap"):
        sq_limit(bad)


def test_tandem_gap_order():
    with pytest.raises(ValueError, match="exceed"):
        tandem_limit(1.1, 1.7)
    with pytest.raises(ValueError, match="kind"):
        tandem_limit(1.7, 1.1, kind="3T")


def test_sq_under_other_spectra():
    # direct spectrum (900 W/m^2) has relatively fewer blue photons; AM0 gives a lower PCE than AM1.5G
    g, d, a0 = (float(sq_limit(1.34, spectrum=s).pce_pct) for s in ("AM1.5G", "AM1.5D", "AM0"))
    assert a0 < g and 30 < a0 < 33
    assert abs(d - g) < 1.5
    with pytest.raises(ValueError, match="unknown spectrum"):
        sq_limit(1.34, spectrum="AM9")
