"""Study/simulate file parsing, validation errors (naming file and key), TOML writing, designs."""
from __future__ import annotations

import math
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from studies import spec as specmod
from studies.simulate_file import dumps_toml
from studies.spec import Bound, StudyFileError, load, loads

EXAMPLES = Path(__file__).resolve().parents[1] / "studies" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.toml"))


def _raw(name="quick.toml"):
    return tomllib.loads((EXAMPLES / name).read_text())


def _err(raw, match_key, source="bad.toml", **kw):
    """Loading ``raw`` must raise StudyFileError naming the file and ``match_key``."""
    with pytest.raises(StudyFileError) as ei:
        loads(dumps_toml(raw), source=source, **kw)
    msg = str(ei.value)
    assert msg.startswith(source + ":"), msg
    assert match_key in msg, msg
    return msg


def test_six_examples_shipped():
    names = {p.stem for p in EXAMPLE_FILES}
    assert {"quick", "cspbi3qd_si_2t", "cspbi3qd_si_4t", "cspbi3qd_snpb_2t", "cspbi3qd_pbs_2t",
            "cspbi3qd_window_st"} <= names


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_validate(path):
    s = load(path, require_study=True)
    assert s.study.name
    assert s.parameters, "a study needs free parameters"
    mid = {k: 0.5 * (b.low + b.high) for k, b in s.parameters.items()}
    d = s.thicknesses_nm(mid)
    assert d.shape == (len(s.layers),) and np.all(d >= 0)
    assert s.kind in specmod.KINDS


def test_example_kinds_and_objectives():
    kinds = {p.stem: load(p).kind for p in EXAMPLE_FILES}
    assert kinds["cspbi3qd_si_2t"] == "2T" and kinds["cspbi3qd_si_4t"] == "4T"
    assert kinds["cspbi3qd_snpb_2t"] == "2T" and kinds["cspbi3qd_pbs_2t"] == "2T"
    st_ = load(EXAMPLES / "cspbi3qd_window_st.toml")
    assert st_.kind == "semitransparent" and st_.study.objectives == ("pce", "avt")
    assert st_.study.directions == ["maximize", "maximize"]
    assert len(load(EXAMPLES / "cspbi3qd_si_2t.toml").parameters) >= 4


def test_parameter_names_and_bounds():
    s = load(EXAMPLES / "quick.toml")
    assert list(s.parameters) == ["qd.thickness_nm", "qd.bandgap_ev", "recombination_ITO.thickness_nm"]
    b = s.parameters["qd.thickness_nm"]
    assert (b.low, b.high) == (150.0, 900.0)
    gaps = s.bandgaps_ev({"qd.thickness_nm": 300, "qd.bandgap_ev": 1.75,
                          "recombination_ITO.thickness_nm": 20})
    assert gaps == {"qd": 1.75}


def test_derived_metrics_count_thin_films_and_absorbers():
    s = load(EXAMPLES / "quick.toml")
    v = {"qd.thickness_nm": 400, "qd.bandgap_ev": 1.75, "recombination_ITO.thickness_nm": 20}
    d = s.thicknesses_nm(v)
    m = s.derived_metrics(v)
    si = [lay.name for lay in s.layers].index("si")
    assert m["absorber_thickness_nm"] == pytest.approx(400 + d[si])
    # the incoherent Si wafer is not a thin film
    assert m["total_thickness_nm"] == pytest.approx(d.sum() - d[si])


# ----------------------------------------------------------------------------- errors

def test_unknown_material_names_key():
    raw = _raw()
    raw["layers"][3]["material"] = "PTAAA"
    _err(raw, "layers[3].material")


def test_bound_lo_gt_hi_names_key():
    raw = _raw()
    raw["layers"][4]["thickness_nm"] = {"min": 900, "max": 150}
    msg = _err(raw, "layers[4].thickness_nm")
    assert "greater than" in msg


def test_unknown_sampler_names_key():
    raw = _raw()
    raw["study"]["sampler"] = "tpee"
    msg = _err(raw, "study.sampler")
    assert "tpe" in msg


def test_missing_absorber_names_key():
    raw = _raw()
    del raw["device"]["top"]["absorber"]
    _err(raw, "device.top.absorber")
    raw = _raw()
    raw["device"]["bottom"]["absorber"] = "silicon"
    _err(raw, "device.bottom.absorber")
    raw = _raw()
    del raw["device"]["bottom"]
    _err(raw, "device.bottom")


def test_unknown_key_is_an_error_with_suggestion():
    raw = _raw()
    raw["layers"][0]["thickness"] = 5
    msg = _err(raw, "layers[0].thickness")
    assert "thickness_nm" in msg
    raw = _raw()
    raw["study"]["n_trial"] = 5
    _err(raw, "study.n_trial")


def test_other_validation_errors():
    raw = _raw()
    raw["layers"][4]["bandgap_ev"] = {"min": 0.5, "max": 1.8}
    _err(raw, "layers[4].bandgap_ev")                          # outside the tunable range
    raw = _raw()
    raw["layers"][3]["bandgap_ev"] = 1.7
    _err(raw, "layers[3].bandgap_ev")                          # PTAA is not tunable
    raw = _raw()
    raw["device"]["interconnect"] = []
    _err(raw, "device.interconnect")                           # 2T needs one
    raw = _raw()
    raw["device"]["interconnect"] = ["ar"]
    _err(raw, "device.interconnect[0]")                        # not between the absorbers
    raw = _raw()
    raw["layers"][1]["name"] = "ar"
    _err(raw, "layers[1].name")                                # duplicate name
    raw = _raw()
    raw["study"]["objectives"] = ["pce", "avt"]
    _err(raw, "study.objectives")                              # AVT of an opaque 2T
    raw = _raw()
    raw["study"]["sampler"] = "cmaes"
    raw["study"]["objectives"] = ["pce", "absorber_thickness"]
    _err(raw, "study.sampler")                                 # CMA-ES is single-objective
    raw = _raw()
    raw["study"]["constraints"] = [{"metric": "avt", "min": 20}]
    _err(raw, "study.constraints[0].metric")
    raw = _raw()
    raw["device"]["kind"] = "3T"
    _err(raw, "device.kind")
    raw = _raw()
    raw["layers"][0]["thickness_nm"] = -5
    _err(raw, "layers[0].thickness_nm")
    raw = _raw()
    raw["layers"][0]["nk"] = [1.4, -0.1]
    del raw["layers"][0]["material"]
    _err(raw, "layers[0].nk")                                  # k < 0 (gain)


def test_simulate_file_rejects_free_parameters():
    with pytest.raises(StudyFileError, match=r"layers\[4\]\.thickness_nm"):
        load(EXAMPLES / "quick.toml", require_study=False)


def test_study_file_needs_study_table():
    raw = _raw()
    del raw["study"]
    _err(raw, "study", require_study=True)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        load(tmp_path / "nope.toml")


def test_non_utf8_file_is_one_line_error_naming_it(tmp_path, capsys):
    from studies.cli import main

    bad = tmp_path / "latin1.toml"
    bad.write_bytes('[study]\nname = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(StudyFileError, match=r"latin1\.toml: not UTF-8 text \(byte 0xe9 on line 2\)"):
        load(bad)
    assert main(["simulate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bad) in err and "UTF-8" in err


def test_bad_toml_names_file():
    with pytest.raises(StudyFileError, match="x.toml"):
        loads("[study\nname=1", source="x.toml")


# ----------------------------------------------------------------------------- writing

def test_fixed_raw_roundtrip_is_a_simulate_file():
    s = load(EXAMPLES / "cspbi3qd_snpb_2t.toml")
    rng = np.random.default_rng(0)
    v = {k: float(rng.uniform(b.low, b.high)) for k, b in s.parameters.items()}
    text = dumps_toml(s.fixed_raw(v), header="a header\nline two")
    assert text.startswith("# a header\n# line two\n")
    fixed = loads(text, source="fixed.toml", require_study=False)
    assert fixed.is_fixed and fixed.study is None
    np.testing.assert_allclose(fixed.thicknesses_nm({}), s.thicknesses_nm(v), atol=1e-4)
    assert fixed.bandgaps_ev({}) == pytest.approx(s.bandgaps_ev(v), abs=1e-6)
    assert fixed.kind == s.kind and fixed.top == s.top and fixed.bottom == s.bottom
    assert fixed.interconnect == s.interconnect


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_study_roundtrip_through_writer(path):
    s = load(path)
    again = loads(dumps_toml(dict(s.raw)), source="again.toml")
    assert again.parameters == s.parameters
    assert again.study == s.study
    assert again.layers == s.layers


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(
    st.text("abcxyz_", min_size=1, max_size=6),
    st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
              st.booleans(), st.text(max_size=12),
              st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4),
              st.dictionaries(st.text("ab", min_size=1, max_size=3), st.integers(), max_size=3)),
    max_size=6))
def test_toml_writer_roundtrips(d):
    assert tomllib.loads(dumps_toml({"t": d})) == {"t": d}


def test_bound_grid():
    assert Bound(10, 20, step=5).grid(3) == [10, 15, 20]
    assert Bound(10, 20).grid(3) == [10, 15, 20]
    g = Bound(1, 100, log=True).grid(3)
    assert g == pytest.approx([1, 10, 100])


# ----------------------------------------------------------------------------- designs

def test_design_maps_spec_to_tandem_design():
    import nkdata
    import tandem

    s = load(EXAMPLES / "cspbi3qd_si_2t.toml")
    v = {k: 0.5 * (b.low + b.high) for k, b in s.parameters.items()}
    d = s.design(v)
    assert isinstance(d, tandem.Design)
    assert d.kind == "2T"
    names = [lay.name for lay in s.layers]
    assert d.top.absorber == names.index("qd") and d.bottom.absorber == names.index("si")
    assert d.interconnect == (names.index("recombination_ITO"),)
    assert d.light_trapping == "lambertian"
    np.testing.assert_allclose(d.stack.thicknesses_nm, s.thicknesses_nm(v))
    assert d.stack.coherent[names.index("si")] is False
    qd = d.stack.layers[names.index("qd")].material
    assert qd.bandgap_ev == pytest.approx(v["qd.bandgap_ev"])
    wl = np.linspace(400, 800, 5)
    ref = nkdata.get("CsPbI3_QD", bandgap_ev=v["qd.bandgap_ev"]).nk(wl)
    np.testing.assert_allclose(qd.nk(wl), ref)


def test_design_requires_all_free_values():
    s = load(EXAMPLES / "quick.toml")
    with pytest.raises(ValueError, match="qd.bandgap_ev"):
        s.design({"qd.thickness_nm": 300, "recombination_ITO.thickness_nm": 20})
    with pytest.raises(ValueError, match="not free parameters"):
        s.design({"qd.thickness_nm": 300, "qd.bandgap_ev": 1.75,
                  "recombination_ITO.thickness_nm": 20, "ar.thickness_nm": 90})


def test_constraint_violation_sign():
    c = specmod.ConstraintSpec("avt_pct", min=25.0)
    assert c.violation(30.0) == -5.0 and c.violation(20.0) == 5.0
    assert c.violation(math.nan) == math.inf
    c2 = specmod.ConstraintSpec("abs_mismatch_ma_cm2", max=0.5)
    assert c2.violation(0.2) == pytest.approx(-0.3) and c2.violation(1.0) == pytest.approx(0.5)


def test_unknown_names_get_the_closest_choice_as_a_hint():
    from studies.spec_checks import did_you_mean

    assert did_you_mean("pcee", ["voc", "pce"]) == " (did you mean 'pce'?)"
    assert did_you_mean("zzz", ("pce",)) == ""
