"""Studies with an energy-yield objective: the [yield] table, metrics on every trial, errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from studies import run as runmod
from studies.spec import YieldSpec, load, loads
from tandem.vocabulary import YIELD_METRICS

EXAMPLE = Path(__file__).resolve().parents[1] / "studies" / "examples" / "cspbi3qd_si_2t_yield.toml"


def test_yield_example_loads_with_its_site_and_objective():
    spec = load(EXAMPLE)
    assert spec.study.objective_metrics == ["energy_yield_kwh_m2"]
    assert spec.study.directions == ["maximize"]
    assert spec.yield_spec == YieldSpec(site="greensboro", mounting="fixed")
    assert spec.wants_yield


def test_energy_yield_study_records_yield_metrics_on_every_trial(tmp_path):
    text = EXAMPLE.read_text().replace("n_trials = 200", "n_trials = 6").replace("batch_size = 16", "batch_size = 6")
    text = text.replace('site = "greensboro"', 'site = "sand_point"')
    path = tmp_path / "ey.toml"
    path.write_text(text)
    res = runmod.run_study(load(path), storage="memory")
    trials = res.study.trials
    assert len(trials) == 6
    for t in trials:
        m = t.user_attrs["metrics"]
        assert t.values[0] == pytest.approx(m["energy_yield_kwh_m2"])
        assert {"ehe_pct", "incident_kwh_m2", "stc_pce_pct"} <= set(m)
        assert m["stc_pce_pct"] == pytest.approx(m["pce_pct"], rel=1e-9)
        assert 800 < m["incident_kwh_m2"] < 1300   # Sand Point AK, not Greensboro (~1780)


def test_constraint_on_a_yield_metric_makes_a_pce_study_compute_the_yield():
    text = EXAMPLE.read_text().replace('objectives = ["energy_yield"]', 'objectives = ["pce"]')
    text = text.replace("[study.sampler_options]", '[[study.constraints]]\nmetric = "ehe_pct"\nmin = 20.0\n\n[study.sampler_options]')
    spec = loads(text, "c.toml")
    assert spec.wants_yield and "ehe_pct" in YIELD_METRICS


@pytest.mark.parametrize("table, message", [
    ('site = "atlantis"', "yield.site"),
    ('mounting = "roof"', "yield.mounting"),
    ('tilt_deg = 95.0', "yield.tilt_deg: must be in [0.0, 90.0]"),
    ('weather = "nowhere.epw"', "yield.weather: weather file"),
    ('site = "miami"\nweather = "x.epw"', "give site or weather, not both"),
    ('sight = "miami"', "sight"),
])
def test_bad_yield_table_is_one_line_naming_the_key(table, message):
    text = EXAMPLE.read_text()
    start = text.index("[yield]")
    end = text.index("[device]")
    text = text[:start] + "[yield]\n" + table + "\n\n" + text[end:]
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")) as e:
        loads(text, "bad.toml")
    assert "\n" not in str(e.value)


@pytest.mark.slow  # a study, then a report with the energy-yield section (~20-50 s on 2 cores)
def test_report_of_a_yield_study_has_the_yield_section_and_stc_vs_yield_table(tmp_path):
    import studies.report as rep

    text = EXAMPLE.read_text().replace("n_trials = 200", "n_trials = 8").replace("batch_size = 16", "batch_size = 8")
    text = text.replace('[device]\n', '[device]\nwavelengths_nm = {start = 300, stop = 1200, step = 10}\n', 1)
    path = tmp_path / "eyr.toml"
    path.write_text(text)
    runmod.run_study(load(path))
    out = rep.write_report(path, out_dir=tmp_path / "report")
    d = out.data["energy_yield"]
    assert "energy-yield" in out.data["sections"]
    assert len(d["monthly"]) == 12 and d["metrics"]["energy_yield_kwh_m2"] > 0
    assert len(d["hourly"]["mismatch_ma_cm2"]) > 4000          # 2T: one value per hour with light
    sv = d["stc_vs_yield"]
    assert sv["n_trials"] == 8
    assert sv["yield_optimal"]["energy_yield_kwh_m2"] >= sv["stc_optimal"]["energy_yield_kwh_m2"]
    assert sv["stc_optimal"]["pce_pct"] >= sv["yield_optimal"]["pce_pct"]
    keys = {f.key for f in out.figures}
    assert {"energy_yield_monthly", "energy_yield_mismatch"} <= keys
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Annual energy yield" in html and "yield-optimal" in html


def test_simulate_file_written_from_a_study_keeps_its_weather_file_reachable(tmp_path):
    from tandem import weather as wx

    (tmp_path / "wx").mkdir()
    (tmp_path / "wx" / "site.csv").write_bytes((wx._pvlib_data_dir() / "723170TYA.CSV").read_bytes())
    text = EXAMPLE.read_text().replace('site = "greensboro"', 'weather = "wx/site.csv"')
    path = tmp_path / "s.toml"
    path.write_text(text)
    spec = load(path)
    assert spec.yield_spec.weather_file == str((tmp_path / "wx" / "site.csv").resolve())
    mid = {k: 0.5 * (b.low + b.high) for k, b in spec.parameters.items()}
    assert spec.fixed_raw(mid)["yield"]["weather"] == spec.yield_spec.weather_file
