"""Devices from optics: single, semitransparent, 2T and 4T tandems (simple model materials)."""
import numpy as np
import pytest

import optics
from optics import Layer, Stack
from tandem import (BatchResult, Design, DeviceResult, Subcell, evaluate, evaluate_batch,
                    lambertian_absorptance)
from tandem import electrical as el
from tandem.limits import sq_limit

HC = el.HC_EV_NM


def qd(eg=1.78, urbach=0.025, n=2.3):
    """Direct-gap absorber with an Urbach edge, n + ik."""
    def nk(wl):
        e = HC / np.asarray(wl, dtype=float)
        k = 0.25 * np.sqrt(np.clip(e - eg, 0, None) + 1e-4) / (1 + np.exp(-(e - eg) / urbach))
        return n + 1j * k
    nk.bandgap_ev = eg
    return nk


def si_like(wl):
    """Crude indirect-gap Si-like absorber (alpha ~ (E - 1.12)^2), n = 3.6."""
    e = HC / np.asarray(wl, dtype=float)
    alpha_cm = 3e5 * np.clip(e - 1.12, 0, None) ** 2 + 1e5 * np.clip(e - 3.2, 0, None)
    return 3.6 + 1j * alpha_cm * np.asarray(wl) * 1e-7 / (4 * np.pi)


class Named:
    """Material object with a category, as nkdata materials have."""
    def __init__(self, name, value, category, bandgap_ev=None):
        self.name, self.value, self.category, self.bandgap_ev = name, value, category, bandgap_ev

    def nk(self, wl):
        v = self.value(wl) if callable(self.value) else self.value
        return np.broadcast_to(np.asarray(v, dtype=complex), np.shape(wl)).copy()


ITO = 1.9 + 0.01j
AG = 0.05 + 4.0j
GLASS = Layer(1.5, 1e6, coherent=False, name="glass")


def single_stack(t_abs=400.0, back=AG):
    return Stack([GLASS, Layer(ITO, 150, name="ITO"), Layer(2.0, 40, name="TiO2"),
                  Layer(qd(), t_abs, name="QD"), Layer(1.7, 150, name="HTL"), Layer(back, 100, name="back")])


def tandem_stack(t_abs=400.0, eg=1.78):
    return Stack([GLASS, Layer(ITO, 150, name="ITO"), Layer(2.0, 40, name="TiO2"), Layer(qd(eg), t_abs, name="QD"),
                  Layer(1.7, 150, name="HTL"), Layer(ITO, 20, name="ITO recombination"),
                  Layer(si_like, 180e3, coherent=False, name="Si"), Layer(AG, 200, name="Ag")])


def two_t(stack=None, top_preset="CsPbI3_QD", **kw):
    return Design(stack or tandem_stack(), "2T", Subcell(3, top_preset), Subcell(6, "Si_HJT"), interconnect=(5,), **kw)


def four_t(stack=None, **kw):
    return Design(stack or tandem_stack(), "4T", Subcell(3), Subcell(6, "Si_HJT"), **kw)


def test_ideal_step_absorber_reaches_sq():
    # index-matched (n = 1) thick absorber with k > 0 only above 1.34 eV: EQE is a step
    eg = 1.34
    wl = np.concatenate([np.arange(300.0, 900.0, 5.0), np.arange(900.0, 1000.0, 0.25)])
    absorber = lambda w: 1.0 + 1j * np.where(HC / np.asarray(w) >= eg, 0.02, 0.0)  # noqa: E731
    d = Design(Stack([Layer(absorber, 5e5, coherent=False, name="step")]), "single",
               Subcell(0, "ideal"), wavelengths_nm=tuple(wl), temperature_k=300.0)
    r = evaluate(d)
    ref = sq_limit(eg, 300.0)
    # the grid ends at 1000 nm (1.24 eV): the absorber emits nothing below its gap anyway
    assert abs(r.pce_pct - float(ref.pce_pct)) < 0.15
    assert abs(r.top.voc_v - float(ref.voc_v)) < 2e-3
    assert abs(r.top.jph_ma_cm2 - float(ref.jsc_ma_cm2)) < 0.1


def test_single_junction_consistency():
    r = evaluate(Design(single_stack(), "single", Subcell(3, collection="ideal")))
    assert isinstance(r, DeviceResult)
    res = optics.solve(single_stack(), r.optics.wavelengths_nm)
    # with ideal collection the photocurrent is exactly the optical Jsc of the absorber layer
    jopt = float(optics.jsc(res.A[3], res.wavelengths_nm))
    assert r.top.jph_ma_cm2 == pytest.approx(jopt, rel=1e-9)
    assert r.top.jph_ideal_ma_cm2 == pytest.approx(jopt, rel=1e-9) and r.top.collection_pct is None
    # carrier collection (the default) loses part of it, never gains
    c = evaluate(Design(single_stack(), "single", Subcell(3)))
    assert c.top.jph_ideal_ma_cm2 == pytest.approx(jopt, rel=1e-9)
    assert 0.5 * jopt < c.top.jph_ma_cm2 < jopt
    assert np.all(c.top.eqe <= c.top.eqe_ideal + 1e-12)
    assert c.top.collection_pct.shape == c.top.z_rel.shape and np.all(c.top.collection_pct <= 100)
    assert r.top.jsc_ma_cm2 <= r.top.jph_ma_cm2
    p = el.get_preset("CsPbI3_QD")
    # Voc = Voc,rad + kT/q ln(ERE) (Rs does not act at open circuit; the shunt costs a little)
    vt = el.thermal_voltage(298.15)
    assert r.top.voc_v == pytest.approx(r.top.voc_rad_v + vt * np.log(p.ere), abs=0.01)
    assert r.top.voc_v < r.top.voc_rad_v + vt * np.log(p.ere) + 1e-9
    assert r.pce_pct == pytest.approx(r.top.pce_pct)
    assert r.pce_pct == pytest.approx(r.top.jsc_ma_cm2 * r.top.voc_v * r.top.ff_pct / 100 / 100.037 * 100, rel=1e-3)
    assert np.isnan(r.avt_pct) and np.isnan(r.mismatch_ma_cm2) and r.bottom is None
    v, j = r.jv
    assert v.shape == j.shape and np.all(np.diff(v) > 0)


def test_energy_conservation_with_light_trapping():
    for lt in ("none", "lambertian"):
        o = evaluate(two_t(light_trapping=lt)).optics
        np.testing.assert_allclose(o.R + o.T + o.A.sum(0), 1.0, atol=1e-9)


def test_lambertian_formula_limits():
    wl = np.array([1000.0])
    n = 3.5
    for alpha_per_nm, w in [(1e-9, 1e5), (1e-7, 2e5), (1e-3, 1e5)]:
        k = alpha_per_nm * wl / (4 * np.pi)
        a = lambertian_absorptance(n + 1j * k, w, wl)[0]
        weak = alpha_per_nm / (alpha_per_nm + 1 / (4 * n**2 * w))
        if 4 * alpha_per_nm * w < 1e-3:
            assert a == pytest.approx(weak, rel=1e-2)
        assert a <= 1 and a >= 1 - np.exp(-2 * alpha_per_nm * w) - 1e-12  # beats a double pass


def test_light_trapping_raises_weakly_absorbed_current():
    thin = tandem_stack().replace_thicknesses([1e6, 150, 40, 400, 150, 20, 30e3, 200])
    r0 = evaluate(four_t(thin))
    r1 = evaluate(four_t(thin, light_trapping="lambertian"))
    assert r1.bottom.jph_ma_cm2 > r0.bottom.jph_ma_cm2 + 0.3
    wl = r1.optics.wavelengths_nm
    ir = wl > 1050
    assert np.all(r1.bottom.eqe[ir] >= r0.bottom.eqe[ir] - 1e-3)


def test_2t_top_current_within_top_alone_and_2t_below_4t():
    r2, r4 = evaluate(two_t()), evaluate(four_t())
    alone = evaluate(Design(single_stack(), "single", Subcell(3)))  # same top cell on a silver mirror
    assert 0.8 * alone.top.jph_ma_cm2 < r2.top.jph_ma_cm2 <= alone.top.jph_ma_cm2
    assert r2.top.jsc_ma_cm2 <= r2.top.jph_ma_cm2
    # same optics in 2T and 4T: same photocurrents, 4T gets both MPPs
    assert r2.top.jph_ma_cm2 == pytest.approx(r4.top.jph_ma_cm2)
    assert r2.pce_pct <= r4.pce_pct
    assert r4.pce_pct == pytest.approx(r4.top.pce_pct + r4.bottom.pce_pct)
    # series connection: Voc adds; mismatch and limiting cell
    assert r2.voc_v == pytest.approx(r2.top.voc_v + r2.bottom.voc_v, abs=1e-6)
    assert r2.mismatch_ma_cm2 == pytest.approx(r2.top.jph_ma_cm2 - r2.bottom.jph_ma_cm2)
    assert r2.limiting == ("top" if r2.mismatch_ma_cm2 < 0 else "bottom")
    # the operating voltages of the subcells add to the tandem MPP voltage
    v, j = r2.jv
    p = v * j
    assert p.max() <= r2.pmax_mw_cm2 + 1e-9
    assert r2.pmax_mw_cm2 == pytest.approx(r2.vmpp_v * r2.jmpp_ma_cm2)
    assert r2.pce_pct == pytest.approx(r2.pmax_mw_cm2 / 100.037 * 100, rel=1e-5)
    assert r2.top.v_operating_v + r2.bottom.v_operating_v == pytest.approx(r2.vmpp_v, abs=1e-9)
    assert np.interp(r2.jmpp_ma_cm2, j[::-1], v[::-1]) == pytest.approx(r2.vmpp_v, abs=2e-3)
    assert r4.pmax_mw_cm2 == pytest.approx(r4.top.vmpp_v * r4.top.jmpp_ma_cm2 + r4.bottom.vmpp_v * r4.bottom.jmpp_ma_cm2)


def test_2t_pce_peaks_near_current_matching():
    # a 1.55 eV top cell can out-absorb the Si-like bottom cell when thick
    designs = [two_t(tandem_stack(t, 1.55), "FAPbI3_QD") for t in np.linspace(100, 1500, 29)]
    br = evaluate_batch(designs)
    f = br.frame
    best = int(np.argmax(f["pce_pct"]))
    assert abs(f["mismatch_ma_cm2"][best]) < 2.5
    assert f["limiting"].iloc[0] == "top" and f["limiting"].iloc[-1] == "bottom"


def test_luminescent_coupling_option():
    thick_top = tandem_stack(1500, 1.55)  # bottom-limited
    r = [evaluate(Design(thick_top, "2T", Subcell(3, "FAPbI3_QD", ere=ere, collection="ideal"), Subcell(6, "Si_HJT"),
                         interconnect=(5,), luminescent_coupling=lc))
         for ere, lc in ((1.0, 0.0), (1.0, 0.5), (1e-4, 0.0), (1e-4, 0.5))]
    assert r[0].limiting == "bottom"
    # a radiative top cell's excess current is recycled into the starved bottom cell
    assert r[1].pce_pct > r[0].pce_pct + 1.0
    assert r[1].jsc_ma_cm2 > r[0].jsc_ma_cm2 + 1.0
    # with a poor ERE there is little radiative recombination to couple
    assert 0 <= r[3].pce_pct - r[2].pce_pct < 0.05


def test_semitransparent_reports_avt_colour():
    st = single_stack(150, back=ITO)
    r = evaluate(Design(st, "semitransparent", Subcell(3)))
    # independent of tandem.transparency: photopic V (CIE 1924) x AM1.5G photon flux (pvlib's
    # G173 table) on a 1 nm grid, and the colour-science CIE 1931 2-degree observer
    import colour
    import pvlib

    g173 = pvlib.spectrum.get_reference_spectra(standard="ASTM G173-03")["global"]
    fine = np.arange(380.0, 781.0, 1.0)
    wl = np.asarray(r.optics.wavelengths_nm, dtype=float)
    t_fine = np.interp(fine, wl, r.optics.T)
    phi = np.interp(fine, g173.index.to_numpy(float), g173.to_numpy(float)) * fine
    v = colour.colorimetry.SDS_LEFS_PHOTOPIC["CIE 1924 Photopic Standard Observer"]
    weight = phi * np.interp(fine, v.wavelengths, v.values)
    assert r.avt_pct == pytest.approx(100 * np.sum(t_fine * weight) / np.sum(weight), abs=0.05)
    assert r.lue_pct == pytest.approx(r.pce_pct * r.avt_pct / 100)
    vis = np.arange(360.0, 831.0, 1.0)
    light = np.interp(vis, wl, r.optics.T) * np.interp(vis, g173.index.to_numpy(float), g173.to_numpy(float))
    sd = colour.SpectralDistribution(dict(zip(vis, light)))
    xy = colour.XYZ_to_xy(colour.sd_to_XYZ(sd, method="Integration"))
    assert r.cie_xy == pytest.approx(tuple(xy), abs=2e-3)
    assert r.cri == pytest.approx(colour.colour_rendering_index(sd), abs=1.0)
    thicker = evaluate(Design(single_stack(400, back=ITO), "semitransparent", Subcell(3)))
    assert thicker.avt_pct < r.avt_pct and thicker.pce_pct > r.pce_pct


def test_batch_matches_single_and_keeps_order():
    designs = [two_t(tandem_stack(300)), Design(single_stack(), "single", Subcell(3)), four_t(tandem_stack(500)),
               two_t(tandem_stack(600), light_trapping="lambertian"),
               Design(single_stack(200, back=ITO), "semitransparent", Subcell(3))]
    br = evaluate_batch(designs)
    assert isinstance(br, BatchResult) and len(br.results) == len(designs) == len(br.frame)
    for d, r in zip(designs, br.results):
        one = evaluate(d)
        assert r.kind == d.kind
        assert r.pce_pct == pytest.approx(one.pce_pct, rel=1e-9)
        assert r.top.jph_ma_cm2 == pytest.approx(one.top.jph_ma_cm2, rel=1e-12)
    np.testing.assert_allclose(br.frame["pce_pct"], [r.pce_pct for r in br.results])
    row = br.results[0].to_frame()
    assert len(row) == 1 and {"pce_pct", "top_jsc_ma_cm2", "bottom_pce_pct", "mismatch_ma_cm2", "avt_pct",
                              "lue_pct", "cri"} <= set(row.columns)
    assert np.isnan(br.results[1].to_dict()["bottom_pce_pct"])


def test_temperature_lowers_voc():
    cold = evaluate(Design(single_stack(), "single", Subcell(3), temperature_k=273.15))
    hot = evaluate(Design(single_stack(), "single", Subcell(3), temperature_k=338.15))
    assert hot.top.voc_v < cold.top.voc_v - 0.05


def test_si_intrinsic_preset_uses_wafer_thickness():
    def si_stack(w):
        return Stack([Layer(1.9, 75, name="ARC"), Layer(si_like, w, coherent=False, name="Si"), Layer(AG, 200, name="Ag")])
    r = [evaluate(Design(si_stack(w), "single", Subcell(1, "Si_intrinsic"), light_trapping="lambertian"))
         for w in (50e3, 400e3)]
    assert r[0].top.jph_ma_cm2 < r[1].top.jph_ma_cm2
    assert r[0].top.voc_v > r[1].top.voc_v  # less Auger volume
    assert 0.70 < r[1].top.voc_v < 0.80


# ---- bad input ------------------------------------------------------------------------------
def test_absorber_index_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        Design(single_stack(), "single", Subcell(9))


def test_absorber_names_non_absorber():
    with pytest.raises(ValueError, match="does not absorb"):
        Design(single_stack(), "single", Subcell(2))  # TiO2 given as a real number
    st = Stack([Layer(Named("ITO", ITO, "tco"), 100), Layer(qd(), 300)])
    with pytest.raises(ValueError, match="'tco' layer, not an absorber"):
        Design(st, "single", Subcell(0))
    clear = Stack([Layer(lambda w: np.full(np.shape(w), 1.5 + 0j), 100, name="clear"), Layer(qd(), 300)])
    with pytest.raises(ValueError, match="does not absorb"):
        evaluate(Design(clear, "single", Subcell(0)))


def test_bandgap_outside_preset_range():
    st = Stack([Layer(Named("PbS_QD", qd(1.0), "absorber", bandgap_ev=1.0), 300, name="PbS")])
    with pytest.raises(ValueError, match="band gap of 1 eV, outside"):
        Design(st, "single", Subcell(0, "CsPbI3_QD"))
    Design(st, "single", Subcell(0, "PbS_QD"))  # fine for the PbS preset
    assert Design(st, "single", Subcell(0, "PbS_QD")).wavelengths()[-1] >= HC / 1.0 + 150


@pytest.mark.parametrize("kw, msg", [
    (dict(ere=0.0), "ere"), (dict(ere=1.2), "ere"), (dict(rs_ohm_cm2=-0.1), "series resistance"),
    (dict(rsh_ohm_cm2=-5.0), "shunt resistance"), (dict(iqe=1.5), "iqe"), (dict(preset="nope"), "unknown"),
])
def test_bad_subcell(kw, msg):
    with pytest.raises(ValueError, match=msg):
        Subcell(3, **kw)


def test_bad_design():
    with pytest.raises(ValueError, match="interconnect"):
        Design(tandem_stack(), "2T", Subcell(3), Subcell(6, "Si_HJT"))
    with pytest.raises(ValueError, match="between"):
        Design(tandem_stack(), "2T", Subcell(3), Subcell(6, "Si_HJT"), interconnect=(7,))
    with pytest.raises(ValueError, match="bottom Subcell"):
        Design(tandem_stack(), "4T", Subcell(3))
    with pytest.raises(ValueError, match="kind"):
        Design(tandem_stack(), "3T", Subcell(3))
    with pytest.raises(ValueError, match="2T designs only"):
        four_t(luminescent_coupling=0.3)
    with pytest.raises(ValueError, match="light_trapping"):
        two_t(light_trapping="pyramids")
    with pytest.raises(ValueError, match="rear mirror"):
        Design(single_stack(back=ITO), "semitransparent", Subcell(3), light_trapping="lambertian")
    with pytest.raises(ValueError, match="after the top absorber"):
        Design(tandem_stack(), "4T", Subcell(6, "Si_HJT"), Subcell(3))


def test_spectrum_parameter():
    d = Design(single_stack(), "single", Subcell(3))
    am0 = evaluate(Design(single_stack(), "single", Subcell(3), spectrum="AM0"))
    g = evaluate(d)
    assert am0.top.jph_ma_cm2 > g.top.jph_ma_cm2  # more photons in space
    assert am0.pce_pct < g.pce_pct * 1.05  # but relative to 136 mW/cm^2
    el.register_spectrum("flat_test", [280.0, 4000.0], [0.5, 0.5])
    flat = evaluate(Design(single_stack(), "single", Subcell(3), spectrum="flat_test"))
    assert flat.top.jph_ma_cm2 > 0
    assert el.incident_power_mw_cm2("flat_test") == pytest.approx(0.5 * 3720 * 0.1)
    with pytest.raises(ValueError, match="unknown spectrum"):
        Design(single_stack(), "single", Subcell(3), spectrum="AM2")


def test_random_batch_is_finite_and_2t_below_4t():
    rng = np.random.default_rng(7)
    base = tandem_stack()
    stacks = [base.replace_thicknesses([1e6, rng.uniform(0, 300), rng.uniform(0, 100), rng.uniform(5, 2000),
                                        rng.uniform(0, 300), rng.uniform(0, 100), rng.uniform(1e3, 3e5), 200])
              for _ in range(40)]
    lc = rng.uniform(0, 1, 40)
    r2 = evaluate_batch([two_t(s, luminescent_coupling=0.0) for s in stacks]).frame
    r2lc = evaluate_batch([two_t(s, luminescent_coupling=float(x)) for s, x in zip(stacks, lc)]).frame
    r4 = evaluate_batch([four_t(s) for s in stacks]).frame
    for f in (r2, r2lc, r4):
        assert np.all(np.isfinite(f["pce_pct"])) and np.all(f["pce_pct"] >= 0)
        assert np.all(f["pce_pct"] < 46.1)
    assert np.all(r2["pce_pct"] <= r4["pce_pct"] + 1e-9)
    assert np.all(r2lc["pce_pct"] >= r2["pce_pct"] - 1e-6)
