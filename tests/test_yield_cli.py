"""qdtandem yield: text and JSON output, sites, weather files and one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from studies import cli
from tandem.vocabulary import YIELD_METRICS

@pytest.fixture(scope="module")
def simulate_file(design_file, tmp_path_factory) -> Path:
    """studies/examples/quick.toml with every free parameter fixed and no [study] table."""
    return design_file(tmp_path_factory.mktemp("yield"), "cell")


def test_yield_json_has_the_metric_names_and_twelve_months(simulate_file, capsys):
    assert cli.main(["yield", str(simulate_file), "--site", "sand_point", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert tuple(doc["metrics"]) == YIELD_METRICS
    m = doc["metrics"]
    assert m["ehe_pct"] == pytest.approx(m["energy_yield_kwh_m2"] / m["incident_kwh_m2"] * 100)
    assert [row["month"] for row in doc["monthly"]] == list(range(1, 13))
    assert sum(r["energy_yield_kwh_m2"] for r in doc["monthly"]) == pytest.approx(m["energy_yield_kwh_m2"], rel=1e-9)
    assert doc["conditions"]["site"] == "sand_point" and doc["kind"] == "2T"
    assert m["transmitted_kwh_m2"] is None


def test_yield_text_and_weather_file(simulate_file, capsys, tmp_path):
    from tandem import weather as wx

    src = wx._pvlib_data_dir() / "723170TYA.CSV"
    copy = tmp_path / "my_site.csv"
    copy.write_bytes(src.read_bytes())
    assert cli.main(["yield", str(simulate_file), "--weather", str(copy), "--mounting", "vertical",
                     "--azimuth", "200"]) == 0
    out = capsys.readouterr().out
    assert "energy_yield_kwh_m2" in out and "vertical, tilt 90 deg, azimuth 200 deg" in out
    assert "my_site" in out


@pytest.mark.parametrize("argv, message", [
    (["--site", "atlantis"], "unknown site 'atlantis'"),
    (["--tilt", "95"], "tilt_deg must lie in 0-90"),
    (["--weather", "nowhere.epw"], "nowhere.epw: weather file not found"),
])
def test_yield_bad_input_is_one_line(simulate_file, capsys, argv, message):
    assert cli.main(["yield", str(simulate_file), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
