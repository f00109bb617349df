"""qdtandem yield: text and JSON output, sites, weather files and one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import pytest

from studies import cli
from studies.simulate_file import dumps_toml
from tandem.vocabulary import YIELD_METRICS

EXAMPLES = Path(__file__).resolve().parents[1] / "studies" / "examples"


@pytest.fixture(scope="module")
def simulate_file(tmp_path_factory) -> Path:
    """studies/examples/quick.toml with every free parameter fixed and no [study] table."""
    raw = tomllib.loads((EXAMPLES / "quick.toml").read_text())
    raw.pop("study")
    for layer in raw["layers"]:
        for key in ("thickness_nm", "bandgap_ev"):
            if isinstance(layer.get(key), dict):
                layer[key] = (layer[key]["min"] + layer[key]["max"]) / 2
    path = tmp_path_factory.mktemp("yield") / "cell.toml"
    path.write_text(dumps_toml(raw))
    return path


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
