"""Realistic devices built from the nkdata library (skipped if nkdata lacks a material)."""
import numpy as np
import pytest

from optics import Layer, Stack
from tandem import Design, Subcell, evaluate, evaluate_batch
from tandem.limits import si_wafer_limit

nkdata = pytest.importorskip("nkdata")
NEEDED = ("glass", "FTO", "TiO2", "CsPbI3_QD", "Spiro-OMeTAD", "MoOx", "Ag", "Si", "IZO", "ITO", "LiF")
if not hasattr(nkdata, "names") or not set(NEEDED) <= set(nkdata.names()):
    pytest.skip("nkdata materials not available", allow_module_level=True)

g = nkdata.get


def qd_single(t_qd=400.0, back="Ag"):
    """n-i-p CsPbI3 QD cell as in Sanehira et al. 2017: glass/FTO/TiO2/QD/Spiro/MoOx/Ag."""
    return Stack([Layer(g("glass"), 1e6, coherent=False), Layer(g("FTO"), 400), Layer(g("TiO2"), 50),
                  Layer(g("CsPbI3_QD"), t_qd), Layer(g("Spiro-OMeTAD"), 200), Layer(g("MoOx"), 10),
                  Layer(g(back), 100)])


def top_layers(t_qd):
    # light enters through LiF / IZO / MoOx / Spiro into the QD film, then TiO2 and the ITO junction
    return [Layer(g("LiF"), 100), Layer(g("IZO"), 100), Layer(g("MoOx"), 10), Layer(g("Spiro-OMeTAD"), 100),
            Layer(g("CsPbI3_QD"), t_qd), Layer(g("TiO2"), 30), Layer(g("ITO"), 20, name="ITO recombination")]


def qd_si(t_qd=600.0):
    return Stack(top_layers(t_qd) + [Layer(g("Si"), 180e3, coherent=False), Layer(g("Ag"), 200)])


def test_cspbi3_qd_single_junction_in_published_range():
    r = evaluate(Design(qd_single(), "single", Subcell(3, "CsPbI3_QD")))
    assert 1.15 <= r.top.voc_v <= 1.30
    assert 12.0 <= r.pce_pct <= 17.0
    assert 65.0 <= r.top.ff_pct <= 82.0
    assert 12.0 <= r.top.jsc_ma_cm2 <= 19.0


def test_cspbi3_qd_si_2t_top_current_and_4t():
    st = qd_si()
    r2 = evaluate(Design(st, "2T", Subcell(4), Subcell(7, "Si_HJT"), interconnect=(6,), light_trapping="lambertian"))
    r4 = evaluate(Design(st, "4T", Subcell(4), Subcell(7, "Si_HJT"), light_trapping="lambertian"))
    # the same top cell alone: on a silver mirror (upper bound) and free-standing in air
    mirror = evaluate(Design(Stack(top_layers(600.0) + [Layer(g("Ag"), 200)]), "single", Subcell(4)))
    alone = evaluate(Design(Stack(top_layers(600.0)), "single", Subcell(4)))
    assert r2.top.jsc_ma_cm2 <= r2.top.jph_ma_cm2 <= mirror.top.jph_ma_cm2
    assert r2.top.jph_ma_cm2 >= 0.9 * alone.top.jph_ma_cm2
    assert r2.pce_pct <= r4.pce_pct
    assert r2.limiting == "top" and r2.mismatch_ma_cm2 < 0
    assert 0.68 < r2.bottom.voc_v < 0.76
    assert 2.0 > r2.top.v_operating_v + r2.bottom.v_operating_v > 1.5
    assert 25.0 < r4.pce_pct < 35.0


def test_si_intrinsic_limit_richter_2013():
    # 110 um undoped wafer, Lambertian light trapping, ideal AR (index-matched incidence):
    # Richter et al. IEEE JPV 3, 1184 (2013): 29.43 %, Jsc 43.31 mA/cm^2, Voc 761 mV, FF 89.26 %.
    # Checked to 0.1 % absolute against tests/data/richter2013_si_limit.csv in test_si_intrinsic_limit.py.
    r = si_wafer_limit(110.0)
    assert abs(r.pce_pct - 29.43) < 0.5
    assert abs(r.top.jph_ma_cm2 - 43.31) < 0.6
    assert abs(r.top.voc_v - 0.761) < 0.010
    assert abs(r.top.ff_pct - 89.26) < 0.5
    # planar wafer loses the weakly absorbed infrared; a much thicker wafer loses Voc to Auger
    planar = si_wafer_limit(110.0, light_trapping="none")
    thick = si_wafer_limit(1000.0)
    assert planar.top.jph_ma_cm2 < r.top.jph_ma_cm2 - 1.0
    assert thick.top.voc_v < r.top.voc_v - 0.02


def test_glass_slide_avt_nkdata():
    st = Stack([Layer(g("glass"), 1e6, coherent=False, name="slide")])
    from optics import solve
    from tandem.transparency import avt
    wl = np.arange(300.0, 1200.0 + 1e-9, 5.0)
    assert 90.0 <= float(avt(solve(st, wl).T, wl)) <= 92.0


def test_batch_over_qd_thickness_uses_one_material_evaluation():
    designs = [Design(qd_si(t), "2T", Subcell(4), Subcell(7, "Si_HJT"), interconnect=(6,)) for t in (300, 600, 900)]
    f = evaluate_batch(designs).frame
    assert np.all(np.diff(f["top_jph_ma_cm2"]) > 0)
    assert np.all(np.diff(f["bottom_jph_ma_cm2"]) < 0)


def test_cspbi3_bandgap_outside_model_range():
    with pytest.raises(ValueError):
        g("CsPbI3_QD", bandgap_ev=1.2)
    # a PbS QD film is not a CsPbI3-QD-class top cell
    st = Stack([Layer(g("PbS_QD", bandgap_ev=1.0), 300, name="PbS")])
    with pytest.raises(ValueError, match="outside"):
        Design(st, "single", Subcell(0, "CsPbI3_QD"))


def test_tco_as_absorber_rejected():
    with pytest.raises(ValueError, match="not an absorber"):
        Design(qd_single(), "single", Subcell(1))  # FTO


def test_pbs_bottom_cell_grid_extends_within_material_ranges():
    pbs = g("PbS_QD", bandgap_ev=0.95)
    st = Stack([Layer(g("ITO"), 100), Layer(g("PbS_QD", bandgap_ev=1.3), 300), Layer(g("ITO"), 30),
                Layer(pbs, 400), Layer(g("Ag"), 100)])
    d = Design(st, "2T", Subcell(1, "PbS_QD"), Subcell(3, "PbS_QD"), interconnect=(2,))
    wl = d.wavelengths()
    assert wl[-1] >= 1239.84 / 0.95 + 100 and wl[-1] <= min(m.wl_max_nm for m in (g("ITO"), pbs, g("Ag")))
    r = evaluate(d)
    assert r.bottom.jph_ma_cm2 > 1.0 and 0.2 < r.bottom.voc_v < 0.7
    with_qd = Stack([Layer(g("CsPbI3_QD"), 300)] + list(st.layers[2:]))
    d2 = Design(with_qd, "4T", Subcell(0), Subcell(2, "PbS_QD"))
    # CsPbI3_QD now reaches 2000 nm (sub-gap continuation, nkdata.subgap): the PbS edge (1305 nm) + 150 nm
    assert d2.wavelengths()[-1] == 1460.0
    assert evaluate(d2).pce_pct > 0


@pytest.mark.parametrize("material, kw, thickness, preset, voc, ff, pce", [
    ("CsPbI3_QD", {}, 500, "CsPbI3_QD", (1.04, 1.27), (65, 82), (10.8, 16.2)),
    ("CsFAPbI3_QD", {}, 500, "CsFA_QD", (1.05, 1.25), (65, 82), (12.0, 17.5)),
    ("FAPbI3_QD", {}, 500, "FAPbI3_QD", (0.90, 1.15), (65, 82), (10.0, 17.5)),
    ("SnPb_perovskite", {}, 800, "SnPb_perovskite", (0.75, 0.90), (72, 83), (17.0, 23.5)),
    ("PbS_QD", {"bandgap_ev": 1.3}, 500, "PbS_QD", (0.55, 0.75), (60, 75), (9.0, 14.5)),
])
def test_presets_reproduce_device_classes(material, kw, thickness, preset, voc, ff, pce):
    st = Stack([Layer(g("glass"), 1e6, coherent=False), Layer(g("ITO"), 150), Layer(g("SnO2"), 30),
                Layer(g(material, **kw), thickness), Layer(g("Spiro-OMeTAD"), 150), Layer(g("Au"), 80)])
    r = evaluate(Design(st, "single", Subcell(3, preset)))
    assert voc[0] <= r.top.voc_v <= voc[1]
    assert ff[0] <= r.top.ff_pct <= ff[1]
    assert pce[0] <= r.pce_pct <= pce[1]


def test_si_presets_on_textured_wafer():
    st = Stack([Layer(g("MgF2"), 100), Layer(g("ITO"), 70), Layer(g("Si"), 160e3, coherent=False),
                Layer(g("Ag"), 200)])
    res = {p: evaluate(Design(st, "single", Subcell(2, p), light_trapping="lambertian"))
           for p in ("Si_HJT", "Si_TOPCon", "Si_intrinsic")}
    assert 0.72 <= res["Si_HJT"].top.voc_v <= 0.75 and 80 <= res["Si_HJT"].top.ff_pct <= 86
    assert res["Si_TOPCon"].top.voc_v < res["Si_HJT"].top.voc_v
    assert res["Si_intrinsic"].top.voc_v > res["Si_HJT"].top.voc_v
    assert res["Si_intrinsic"].pce_pct > res["Si_HJT"].pce_pct
