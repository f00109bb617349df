"""qdtandem report of a study kept in a real PostgreSQL server (the team set-up).

Uses the throwaway-server fixture ``postgres_url`` of tests/conftest.py; skips cleanly when
the PostgreSQL binaries or psycopg are not available.
"""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow   # a PostgreSQL server and several optuna processes


def test_report_from_postgres_storage_by_url_and_name(postgres_url, study_file, tmp_path, capsys):
    import tandem
    from studies import run as runmod
    from studies.cli import main
    from studies.spec import load

    path = study_file(tmp_path, "pg_report", n_trials=8, batch_size=8, seed=4,
                      constraints=[{"metric": "abs_mismatch_ma_cm2", "max": 5.0}],
                      device={"wavelengths_nm": {"start": 300, "stop": 1200, "step": 25}})
    res = runmod.run_study(load(path), storage=postgres_url)
    assert res.best
    # the study file is not needed: its text is stored with the study
    assert main(["report", "--storage", postgres_url, "--study", "pg_report", "--out", str(tmp_path / "r")]) == 0
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    ref = tandem.evaluate(load(path).design(res.best[0].params))
    assert data["headline"]["pce_pct"] == ref.pce_pct
    assert data["study"]["chosen_trial"] == res.best[0].number
    capsys.readouterr()
    assert main(["report", "--storage", postgres_url, "--study", "nope"]) == 2
    assert "no study named 'nope'" in capsys.readouterr().err
