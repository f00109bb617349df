"""Distributed optimisation on a real PostgreSQL server (optuna's shared RDB storage).

The ``postgres_url`` fixture (tests/conftest.py) starts a throwaway server and removes it
afterwards; the tests skip cleanly when the PostgreSQL binaries or psycopg are not installed.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow   # a PostgreSQL server and several optuna processes

REPO = Path(__file__).resolve().parents[1]


def test_two_machines_share_one_postgres_study(postgres_url, study_file, tmp_path):
    """Two independent `qdtandem optimize --storage URL` processes, as on two machines."""
    import optuna
    from optuna.trial import TrialState

    path = study_file(tmp_path, "pg_two_machines", n_trials=20, batch_size=4)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, "-m", "studies.cli", "optimize", str(path),
                               "--storage", postgres_url, "--seed", str(seed), "--no-progress",
                               "--out", str(tmp_path / f"out{seed}")],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for seed in (1, 2)]
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    from studies import run as runmod

    study = optuna.load_study(study_name="pg_two_machines", storage=runmod.open_storage(postgres_url))
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert 20 <= len(done) <= 20 + 4                 # one batch may overshoot the shared target
    assert len({t.number for t in done}) == len(done)
    assert len({t.user_attrs["worker"] for t in done}) == 2   # both processes contributed
    assert not study.get_trials(states=(TrialState.RUNNING,))
    assert study.user_attrs["objective_metrics"] == ["pce_pct"]


def test_workers_option_against_postgres(postgres_url, study_file, tmp_path):
    from optuna.trial import TrialState

    from studies import run as runmod
    from studies.spec import load

    res = runmod.run_study(load(study_file(tmp_path, "pg_workers", n_trials=16, batch_size=4)), storage=postgres_url,
                           workers=2, seed=5)
    done = res.study.get_trials(states=(TrialState.COMPLETE,))
    assert 16 <= len(done) <= 16 + 2 * 4
    assert len({t.user_attrs["worker"] for t in done}) == 2
    # resuming with the same target does nothing more
    n = len(res.study.trials)
    res2 = runmod.run_study(load(study_file(tmp_path, "pg_workers", n_trials=16, batch_size=4)), storage=postgres_url, seed=5)
    assert len(res2.study.trials) == n


def test_eight_workers_of_two_commands_on_one_study(postgres_url, study_file, tmp_path):
    """8 worker processes from 2 separate `qdtandem optimize --workers 4` commands on one
    PostgreSQL study: no finished trial lost, no design evaluated twice, nothing left running."""
    import optuna
    from optuna.trial import TrialState

    from studies import run as runmod
    from test_studies_integrity import twice

    target = 64
    path = study_file(tmp_path, "pg_eight", n_trials=target, batch_size=4)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, "-m", "studies.cli", "optimize", str(path),
                               "--storage", postgres_url, "--workers", "4", "--seed", "1",
                               "--no-progress", "--out", str(tmp_path / f"out{i}")],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="pg_eight", storage=runmod.open_storage(postgres_url))
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE or "error" in t.user_attrs]
    assert target <= len(done) <= target + 8 * 4          # at most one batch per worker beyond
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    # every trial is finished, a duplicate given way (not evaluated), or failed by an interrupt
    assert all(t.state != TrialState.FAIL or {"error", "duplicate_of", "interrupted", "stale"}
               & set(t.user_attrs) for t in trials)
    assert twice(study) == 0
    assert len({t.user_attrs["worker"] for t in done}) >= 6   # the workers of both commands
