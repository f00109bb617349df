"""Intrinsic limit of silicon: band-gap narrowing, free-carrier absorption, Richter et al. 2013."""
from pathlib import Path

import numpy as np
import pytest

from optics.light_trapping import lambertian_absorptance, tiedje_absorptance, trap_light
from tandem import electrical as el
from tandem.limits import si_wafer_limit
from tandem.silicon import fca_alpha_cm, injection, schenk_bgn

DATA = Path(__file__).parent / "data"


def _richter():
    import pandas as pd

    return pd.read_csv(DATA / "richter2013_si_limit.csv", comment="#").iloc[0]


def test_si_wafer_limit_reproduces_richter_2013():
    ref = _richter()
    r = si_wafer_limit(float(ref["thickness_um"]), float(ref["temperature_k"]), float(ref["doping_cm3"]))
    assert r.pce_pct == pytest.approx(ref["pce_pct"], abs=0.1)
    assert r.top.voc_v * 1e3 == pytest.approx(ref["voc_mv"], abs=2.0)
    assert r.top.ff_pct == pytest.approx(ref["ff_pct"], abs=0.1)
    assert r.top.jph_ma_cm2 == pytest.approx(ref["jsc_ma_cm2"], abs=0.2)


def test_schenk_narrowing_grows_with_injection_and_vanishes_without_carriers():
    dn = np.logspace(12, 18, 13)
    eg = schenk_bgn(dn, dn)
    assert np.all(np.diff(eg) > 0)
    assert schenk_bgn(1e10, 1e10) < 1e-4  # eV, intrinsic Si at 298 K
    assert 0.002 < schenk_bgn(1e16, 1e16) < 0.006  # a few meV at one-sun injection
    # ionised dopants add the ionic shift: n-type 1e19 narrows by tens of meV
    assert 0.03 < schenk_bgn(1e19, 1e1, 1e19, 0.0) < 0.08


def test_narrowing_lowers_voc_by_exactly_kt_ln_r_at_the_voc_injection():
    # at Voc the recombination depends on the injection only, so the narrowing shifts Voc by
    # kT/q ln(n_ieff^2 / n_i^2) at that injection
    wl = np.arange(300.0, 1201.0, 5.0)
    eqe = (wl <= el.HC_EV_NM / 1.12).astype(float)[None]
    with_bgn = el.diode_from_eqe(eqe, wl, 298.15, auger_thickness_nm=110e3)
    without = el.diode_from_eqe(eqe, wl, 298.15, auger_thickness_nm=110e3, band_gap_narrowing=False)
    v1, v0 = el.single_mpp(with_bgn).voc_v[0], el.single_mpp(without).voc_v[0]
    _, r = injection(v1, with_bgn.ni[0], with_bgn.n0[0], with_bgn.p0[0], with_bgn.vt[0])
    assert v0 - v1 == pytest.approx(with_bgn.vt[0] * np.log(r), abs=2e-5)
    assert 0.004 < v0 - v1 < 0.010


def test_tiedje_form_is_the_weak_absorption_limit_of_the_lambertian_slab():
    wl = np.array([1000.0])
    w = 100e3  # nm
    n = 3.6
    for alpha_cm, rel in ((1e-3, 1e-3), (30.0, None)):
        k = alpha_cm * 1e-7 * wl / (4 * np.pi)
        a_l = lambertian_absorptance(n + 1j * k, w, wl)[0]
        a_t = tiedje_absorptance(n + 1j * k, w, wl)[0]
        a = alpha_cm * 1e-7
        assert a_t == pytest.approx(a / (a + 1 / (4 * n**2 * w)), rel=1e-12)
        if rel:
            assert a_t == pytest.approx(a_l, rel=rel)
        else:
            assert a_t < a_l - 0.01  # a W = 0.3: the mean path under-counts the absorption


@pytest.mark.parametrize("model", ["lambertian", "tiedje"])
def test_parasitic_absorption_takes_its_share_and_energy_is_conserved(model):
    wl = np.array([1000.0, 1100.0, 1150.0])
    n = np.array([[[3.57 + 1e-4j, 3.56 + 3e-5j, 3.55 + 5e-6j]]])
    d = np.array([[150e3]])
    par = np.array([[2e-8, 3e-8, 4e-8]])  # 1/nm
    R0, T0, A0 = trap_light(model, n, d, (False,), wl, np.ones((1, 3)) * 3.57, 0)
    R, T, A = trap_light(model, n, d, (False,), wl, np.ones((1, 3)) * 3.57, 0, parasitic_alpha_per_nm=par)
    a_bb = 4 * np.pi * n[0, 0].imag / wl
    lost = 1 - R - A.sum(axis=1)
    # the absorbed light is shared in proportion to the absorption coefficients
    assert np.allclose(A[0, 0] / (A[0, 0] + lost[0]), a_bb / (a_bb + par[0]), rtol=1e-9)
    assert np.all(A[0, 0] < A0[0, 0]) and np.all(T == 0)


def test_free_carrier_absorption_of_a_doped_wafer_costs_photocurrent():
    assert float(fca_alpha_cm(1000.0, 1e19, 0.0)[0]) == pytest.approx(26.0, rel=1e-9)
    planar_doped = si_wafer_limit(110.0, doping_cm3=1e18)
    undoped = si_wafer_limit(110.0)
    # 1e18 electrons absorb ~3 cm^-1 near 1100 nm, against ~2 cm^-1 of escape: a clear loss
    assert planar_doped.top.jph_ma_cm2 < undoped.top.jph_ma_cm2 - 0.5


def test_free_carrier_absorption_in_a_pyramid_textured_wafer():
    """The ray-traced pyramid wafer takes the free carriers' absorption too (as the Lambertian
    models do): 1e18 cm^-3 donors cost photocurrent in the near infrared."""
    import nkdata
    from optics import Layer, Stack
    from tandem.device import Design, Subcell
    from tandem.evaluation import evaluate

    wl = tuple(np.arange(300.0, 1300.0 + 1e-9, 25.0))
    stack = Stack([Layer(nkdata.get("Si"), 110e3, coherent=False, name="Si wafer")])
    jph = {dop: evaluate(Design(stack, "single", Subcell(0, "Si_intrinsic", si_doping_cm3=dop), wavelengths_nm=wl,
                                light_trapping="pyramids"), with_cri=False).top.jph_ma_cm2
           for dop in (0.0, 1e18)}
    assert jph[1e18] < jph[0.0] - 0.3
