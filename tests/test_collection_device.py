"""Carrier collection in device evaluation: thickness optima, ideal option, overrides, consistency
with the sampled generation profile, and the drift-diffusion engine for one design."""
import dataclasses

import numpy as np
import pytest

import nkdata
from optics import Layer, Stack, generation_profile
from optics.spectra import Q_E
from tandem import Design, Subcell, collection as col, evaluate, evaluate_batch

g = nkdata.get


def cspbi3_cell(d_nm, **sub):
    """glass / ITO 150 / SnO2 30 / CsPbI3 QD / Spiro 200 / Ag 100 (the issue's cell)."""
    st = Stack([Layer(g("glass"), 1e6, coherent=False), Layer(g("ITO"), 150.0), Layer(g("SnO2"), 30.0),
                Layer(g("CsPbI3_QD"), d_nm), Layer(g("Spiro-OMeTAD"), 200.0), Layer(g("Ag"), 100.0)])
    return Design(st, "single", Subcell(3, "CsPbI3_QD", **sub))


THICK = [100, 200, 300, 400, 500, 600, 800, 1200, 2000]


def test_cspbi3_qd_cell_has_an_interior_thickness_optimum():
    r = evaluate_batch([cspbi3_cell(d) for d in THICK], with_cri=False)
    pce = np.array([x.pce_pct for x in r.results])
    best = THICK[int(np.argmax(pce))]
    assert 200 <= best <= 800
    assert pce[-1] < 0.7 * pce.max()  # clearly lower at 2 um
    voc = np.array([x.voc_v for x in r.results])
    ff = np.array([x.ff_pct for x in r.results])
    assert np.all(np.diff(voc[2:]) < 0)  # recombination grows with the volume
    assert ff[-1] < ff[2] - 10  # slow extraction from a thick film costs fill factor
    # the photocurrent that is not collected grows with thickness
    loss = np.array([x.top.jph_ideal_ma_cm2 - x.top.jph_ma_cm2 for x in r.results])
    assert np.all(np.diff(loss) > 0)


def test_ideal_collection_keeps_constant_iqe_behaviour():
    r = evaluate_batch([cspbi3_cell(d, collection="ideal") for d in (400, 2000)], with_cri=False)
    assert r[1].pce_pct > r[0].pce_pct  # without collection losses thicker only absorbs more
    assert r[0].top.jph_ma_cm2 == r[0].top.jph_ideal_ma_cm2


def test_collected_photocurrent_matches_the_sampled_generation_profile():
    d = cspbi3_cell(500)
    r = evaluate(d, with_cri=False)
    t = d.transport(d.top)
    gp = generation_profile(d.stack, r.optics.wavelengths_nm, dz_nm=0.25, layers=[3])
    s = (gp.z_nm - gp.z_nm[0] + gp.dz_nm[0] / 2) / 500.0
    eta = col.collection_efficiency(s, t.architecture, 500.0, t.vbi_v, 0.0, t.mobility_e_cm2_vs,
                                    t.mobility_h_cm2_vs, t.lifetime_e_ns * 1e-9, t.lifetime_h_ns * 1e-9,
                                    t.s_front_cm_s, t.s_back_cm_s)
    j_sampled = Q_E * np.sum(gp.generation * eta * gp.dz_nm * 1e-7) * 1e3
    j_ideal = Q_E * np.sum(gp.generation * gp.dz_nm * 1e-7) * 1e3
    # closed form vs midpoint sampling; different spectral quadratures (~0.5 %)
    assert r.top.jph_ma_cm2 / r.top.jph_ideal_ma_cm2 == pytest.approx(j_sampled / j_ideal, rel=2e-3)


def test_architecture_follows_the_transport_layers():
    nip = cspbi3_cell(400)
    assert nip.transport(nip.top).architecture == "nip"  # SnO2 (ETL) on the light side
    st = Stack([Layer(g("glass"), 1e6, coherent=False), Layer(g("ITO"), 150.0), Layer(g("PTAA"), 20.0),
                Layer(g("CsPbI3_QD"), 400.0), Layer(g("SnO2"), 30.0), Layer(g("Ag"), 100.0)])
    pin = Design(st, "single", Subcell(3, "CsPbI3_QD"))
    assert pin.transport(pin.top).architecture == "pin"
    forced = Design(st, "single", Subcell(3, "CsPbI3_QD", transport={"architecture": "nip"}))
    assert forced.transport(forced.top).architecture == "nip"


def test_transport_overrides_and_bad_values():
    slow = evaluate(cspbi3_cell(600, transport={"mobility_e_cm2_vs": 0.01, "mobility_h_cm2_vs": 0.01}))
    fast = evaluate(cspbi3_cell(600))
    assert slow.top.jph_ma_cm2 < fast.top.jph_ma_cm2 - 1.0
    with pytest.raises(ValueError, match="mobility_e_cm2_vs must be a finite number > 0"):
        Subcell(3, "CsPbI3_QD", transport={"mobility_e_cm2_vs": -1.0})
    with pytest.raises(ValueError, match="lifetime_h_ns"):
        Subcell(3, "CsPbI3_QD", transport={"lifetime_h_ns": float("nan")})
    with pytest.raises(ValueError, match="architecture"):
        Subcell(3, "CsPbI3_QD", transport={"architecture": "npn"})
    with pytest.raises(ValueError, match="top subcell: vbi_v = 2.5 V must lie below the absorber gap"):
        cspbi3_cell(400, transport={"vbi_v": 2.5})
    with pytest.raises(ValueError, match="collection must be one of"):
        Subcell(3, "CsPbI3_QD", collection="perfect")


def test_wafer_and_ideal_presets_unchanged_by_collection():
    # Si wafers collect nearly everything; the detailed-balance preset "ideal" has no transport data
    st = Stack([Layer(g("Si"), 160e3, coherent=False)])
    si = evaluate(Design(st, "single", Subcell(0, "Si_HJT"), light_trapping="lambertian"))
    assert si.top.jph_ma_cm2 > 0.98 * si.top.jph_ideal_ma_cm2
    ideal = evaluate(Design(cspbi3_cell(400).stack, "single", Subcell(3, "ideal")))
    assert ideal.top.collection_pct is None


def test_voltage_dependent_photocurrent_solver_is_exact():
    from tandem import electrical as el

    vt = float(el.thermal_voltage(298.15))
    x = col.VOLTAGE_NODES_KT
    table = 20 * (1 - np.exp(-x / 15))[None]
    jsc = np.interp(1.3 / vt, x, table[0])
    for rsh in (2000.0, np.inf):
        d = el.diode_from_currents([jsc], [1e-20], ere=1e-4, ideality=1.4, rs_ohm_cm2=3, rsh_ohm_cm2=rsh,
                                   jph_v=table, vbi=[1.3])
        j = np.linspace(-5, 19, 25)[None]
        v = d.junction_voltage(j)
        ph, _ = d.photocurrent(v)
        assert np.max(np.abs(ph - d.diode_current(v) - d.gsh[0] * v - j)) < 1e-9


@pytest.mark.slow
def test_drift_diffusion_engine_for_one_design():
    pytest.importorskip("solsesame", reason="drift-diffusion reference: pip install -e '.[dd]'")
    from tandem.drift_diffusion import evaluate_dd

    d = cspbi3_cell(400)
    d = dataclasses.replace(d, stack=Stack([dataclasses.replace(lay, material=g("CsPbI3_QD", bandgap_ev=1.75))
                                            if i == 3 else lay for i, lay in enumerate(d.stack.layers)]))
    dd = evaluate_dd(d, voltages_v=np.arange(0.0, 1.4, 0.05))
    fast = evaluate(d)
    assert dd["jsc_ma_cm2"] == pytest.approx(fast.top.jph_ma_cm2, rel=0.03)
    assert 0.8 < dd["voc_v"] < 1.5 and 40 < dd["ff_pct"] < 90


# ----------------------------------------------------------------------------------------------
# study files: transport overrides per subcell
# ----------------------------------------------------------------------------------------------
def _quick_with_top(extra: str):
    from pathlib import Path

    from studies.spec import loads

    base = (Path(__file__).resolve().parents[1] / "studies" / "examples" / "quick.toml").read_text()
    head = '[device.top]\nabsorber = "qd"\npreset = "CsPbI3_QD"'
    assert head in base
    return loads(base.replace(head, head + "\n" + extra), source="x.toml")


def test_toml_transport_overrides_reach_the_subcell():
    spec = _quick_with_top('mobility_e_cm2_vs = 0.05\nlifetime_h_ns = 20\narchitecture = "pin"')
    d = spec.design({k: (b.low + b.high) / 2 for k, b in spec.parameters.items()})
    t = d.transport(d.top)
    assert (t.mobility_e_cm2_vs, t.lifetime_h_ns, t.architecture) == (0.05, 20.0, "pin")
    ideal = _quick_with_top('collection = "ideal"')
    d = ideal.design({k: (b.low + b.high) / 2 for k, b in ideal.parameters.items()})
    assert d.transport(d.top) is None


@pytest.mark.parametrize("line,msg", [
    ("mobility_e_cm2_vs = 0", "device.top.mobility_e_cm2_vs: must be > 0"),
    ("lifetime_e_ns = nan", "device.top.lifetime_e_ns: must be finite"),
    ("vbi_v = -1", "device.top.vbi_v: must be > 0"),
    ('architecture = "pn"', "device.top.architecture: unknown value 'pn'"),
    ("s_back_cm_s = -3", "device.top.s_back_cm_s: must be >= 0"),
    ("vbi_v = 2.5", "top subcell: vbi_v = 2.5 V must lie below the absorber gap"),
])
def test_toml_bad_transport_is_one_line_naming_subcell_and_key(line, msg):
    with pytest.raises(ValueError, match=msg) as err:
        _quick_with_top(line)
    assert "\n" not in str(err.value)
