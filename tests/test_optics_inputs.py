"""One wavelength-grid check, one angle check and the input errors of issue 12 (optics part)."""
import numpy as np
import pytest

import optics
from optics import Layer, Stack, generation_profile, jsc, solve
from optics.spectra import incident_power_mw_cm2, photon_flux, register_spectrum
from tandem import electrical as el
from tandem import transparency as tr

WL = np.arange(400.0, 801.0, 10.0)
STACK = Stack([Layer(2.0 + 0.1j, 200)], incident=1.5)


def _message(fn, *args, **kw):
    with pytest.raises(ValueError) as info:
        fn(*args, **kw)
    return str(info.value)


def test_jsc_in_metres_raises_the_unit_error_of_solve():
    m = WL * 1e-9
    msg = _message(solve, STACK, m)
    assert "in nm" in msg and "metres" in msg
    assert _message(jsc, np.ones_like(m), m) == msg
    # every grid consumer gives the same answer for the same grid
    assert _message(el.sun_weights, m) == msg
    assert _message(el.reciprocity_weights, m) == msg
    assert "in nm" in _message(tr.avt, np.ones_like(m), m)


def test_grid_rules_are_the_same_everywhere():
    bad = np.array([500.0, 400.0, 600.0])
    for fn in (lambda w: jsc(np.ones(3), w), el.sun_weights, lambda w: tr.avt(np.ones(3), w)):
        assert "strictly increasing" in _message(fn, bad)
    for fn in (lambda w: solve(STACK, w), lambda w: jsc(np.ones(1), w)):
        assert "finite and > 0" in _message(fn, np.array([np.nan]))


@pytest.mark.parametrize("angle", [30 + 1j, np.complex128(30 + 0.5j), np.complex128(30 + 0j), [10.0, 20.0]])
def test_complex_or_array_angle_is_rejected_not_truncated(angle):
    with pytest.raises(ValueError, match="angle_deg"):
        solve(STACK, WL, angle)
    with pytest.raises(ValueError, match="angle_deg"):
        optics.absorption_profile(STACK, WL, angle_deg=angle)


def test_design_rejects_complex_angle():
    from tandem import Design, Subcell

    stack = Stack([Layer(2.0 + 0.3j, 300)])
    with pytest.raises(ValueError, match="angle_deg"):
        Design(stack, "single", Subcell(0, "ideal"), angle_deg=np.complex128(20 + 1j))


def test_tmm_engine_refuses_lossy_incident_medium_at_oblique_incidence():
    pytest.importorskip("tmm")
    lossy = Stack([Layer(2.0 + 0.1j, 200)], incident=1.5 + 0.01j)
    with pytest.raises(ValueError, match="incident medium absorbs"):
        solve(lossy, WL, 30.0, engine="tmm")
    with pytest.raises(ValueError, match="incident medium absorbs"):
        solve(lossy, WL, 30.0, engine="native")


def test_jsc_by_spectrum_name_matches_tandem_and_user_spectra():
    wl = np.arange(300.0, 1201.0, 5.0)
    a = np.clip((1100.0 - wl) / 400.0, 0, 1)
    for sp in ("AM1.5G", "AM1.5D", "AM0"):
        assert float(jsc(a, wl, spectrum=sp)) == float(el.jsc_from_eqe(a, wl, sp))
    # a flat user spectrum: 1 W m^-2 nm^-1 from 300 to 1200 nm; Jsc of A = 1 in closed form
    register_spectrum("flat-test", [300.0, 1200.0], [1.0, 1.0])
    assert incident_power_mw_cm2("flat-test") == pytest.approx(90.0)
    expected = 0.1 * (1200.0**2 - 300.0**2) / 2 * 1e-9 / (optics.spectra.H_PLANCK * optics.spectra.C_LIGHT) \
        * optics.spectra.Q_E
    assert float(jsc(np.ones_like(wl), wl, spectrum="flat-test")) == pytest.approx(expected, rel=1e-12)


def test_generation_profile_follows_the_spectrum():
    stack = Stack([Layer(2.5 + 0.2j, 100)])
    wl = np.arange(400.0, 701.0, 5.0)
    g15 = generation_profile(stack, wl, dz_nm=5, spectrum="AM1.5G").generation
    g0 = generation_profile(stack, wl, dz_nm=5, spectrum="AM0").generation
    assert not np.allclose(g0, g15, rtol=0.05)
    # G summed over depth = photons absorbed in the layer under AM0 (as for AM1.5G in test_optics)
    res = solve(stack, wl)
    photons = np.trapezoid(res.A[0] * photon_flux(wl, "AM0"), wl)
    prof = generation_profile(stack, wl, dz_nm=0.5, spectrum="AM0")
    assert (prof.generation * prof.dz_nm * 1e-7).sum() == pytest.approx(photons * 1e-4, rel=1e-4)
    g_user = generation_profile(stack, wl, dz_nm=5, spectrum=lambda w: photon_flux(w, "AM0")).generation
    np.testing.assert_allclose(g_user, g0, rtol=1e-12)
