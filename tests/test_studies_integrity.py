"""A study never evaluates a design twice, survives a cut storage file, and leaves no orphans
(issue 12): seeds of concurrent and resumed runs, cut journals, racing SQLite creation,
workers whose parent was killed, and rebuilding the outputs from the storage."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from studies import run as runmod
from studies.spec import load

from test_studies_run import make_study

ROOT = Path(__file__).resolve().parents[1]


def evaluated_designs(study) -> Counter:
    """How often each design was evaluated (trials that carry metrics or an error)."""
    names = sorted(study.user_attrs["parameters"])
    return Counter(tuple(t.params[n] for n in names) for t in study.get_trials(deepcopy=False)
                   if "metrics" in t.user_attrs or "error" in t.user_attrs)


def twice(study) -> int:
    return sum(c - 1 for c in evaluated_designs(study).values() if c > 1)


def test_runs_with_overlapping_seeds_never_replay_each_other(tmp_path):
    # worker i seeded with seed + i: worker 1 of the --seed 1 run replayed worker 0 of --seed 2
    s = load(make_study(tmp_path, n_trials=24, batch_size=4, seed=1, sampler="random"))
    db = f"sqlite:///{tmp_path / 'o.db'}"
    runmod.run_study(s, storage=db, workers=2, seed=1)
    res = runmod.run_study(s, storage=db, workers=2, seed=2, n_trials=48)
    assert len([t for t in res.study.trials if t.state == TrialState.COMPLETE]) == 48
    assert twice(res.study) == 0


def test_resumed_run_does_not_replay_the_sampler(tmp_path):
    # stepwise top-ups with the same seed restarted the same random stream
    s = load(make_study(tmp_path, n_trials=8, batch_size=4, seed=3, sampler="random"))
    url = str(tmp_path / "r.journal")
    for n in (8, 16, 24, 32):
        res = runmod.run_study(s, storage=url, n_trials=n)
    done, _ = runmod.counted_trials(res.study)
    assert done == 32
    assert twice(res.study) == 0


def test_one_worker_with_a_seed_is_reproducible(tmp_path):
    s = load(make_study(tmp_path, n_trials=12, batch_size=4, seed=7, sampler="random"))
    a = runmod.run_study(s, storage="memory").study
    b = runmod.run_study(s, storage=str(tmp_path / "b.journal")).study
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_a_design_already_in_the_study_is_not_evaluated_again(tmp_path):
    # a stepped space of 3 x 2 x 2 designs: the sampler proposes finished ones over and over
    path = make_study(tmp_path, n_trials=40, batch_size=4, seed=0, sampler="random")
    text = path.read_text()
    for old, new in (("max = 900", "max = 900, step = 375"), ("max = 1.8", "max = 1.8, step = 0.1"),
                     ("max = 80", "max = 80, step = 70")):
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text)
    s = load(path)
    res = runmod.run_study(s, storage="memory")
    assert twice(res.study) == 0
    assert len(evaluated_designs(res.study)) == 12           # every design, once
    assert res.stats.exhausted and res.stats.n_duplicates > 0
    dup = [t for t in res.study.trials if "duplicate_of" in t.user_attrs]
    assert dup and all(t.state == TrialState.FAIL for t in dup)


@pytest.mark.parametrize("cut", ["half_line", "garbage_line"])
def test_a_cut_journal_is_repaired_and_stays_readable_by_optuna(tmp_path, cut):
    s = load(make_study(tmp_path, n_trials=8, batch_size=4, seed=1, sampler="random"))
    path = tmp_path / "c.journal"
    runmod.run_study(s, storage=str(path))
    whole = path.read_bytes()
    last = whole[:-1].rsplit(b"\n", 1)[1]
    # a crash in the middle of an append: half a record, or a line that is not JSON
    path.write_bytes(whole + (last[: len(last) // 2] if cut == "half_line" else b"{\"op_c\n"))
    with pytest.warns(runmod.JournalRepairedWarning, match="cut off"):
        res = runmod.run_study(s, storage=str(path), n_trials=16)
    assert runmod.counted_trials(res.study)[0] == 16
    kept = list(tmp_path.glob("c.journal.partial-*"))
    assert len(kept) == 1 and kept[0].read_bytes()
    stock = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.load_study(study_name="t", storage=stock)
    assert len([t for t in study.trials if t.state == TrialState.COMPLETE]) == 16


def test_creating_a_new_sqlite_study_survives_the_schema_race(tmp_path, monkeypatch):
    # two processes creating one new SQLite file: the loser of the race to create optuna's
    # tables got "table studies already exists"; here the race is replayed in one process
    import sqlalchemy
    import sqlalchemy.exc

    real = sqlalchemy.MetaData.create_all
    raced = []

    def create_all(self, bind=None, *a, **k):
        if not raced:
            real(self, bind, *a, **k)                 # the other process won ...
            raced.append(1)
            raise sqlalchemy.exc.OperationalError(    # ... and we lost
                "CREATE TABLE studies", {}, Exception("table studies already exists"))
        return real(self, bind, *a, **k)

    monkeypatch.setattr(sqlalchemy.MetaData, "create_all", create_all)
    s = load(make_study(tmp_path, n_trials=4, batch_size=4, seed=1, sampler="random"))
    res = runmod.run_study(s, storage=f"sqlite:///{tmp_path / 'race.db'}")
    assert raced and runmod.counted_trials(res.study)[0] == 4


def _open_same_new_study(path, url, barrier):
    barrier.wait()
    study = runmod.open_study(load(path), url, seed=1)
    assert study.user_attrs["parameters"]


@pytest.mark.slow
def test_processes_creating_one_new_sqlite_study_all_succeed(tmp_path):
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    path = make_study(tmp_path, n_trials=4, batch_size=4, seed=1)
    for round_ in range(2):
        url = f"sqlite:///{tmp_path / f'new{round_}.db'}"
        barrier = ctx.Barrier(3)
        procs = [ctx.Process(target=_open_same_new_study, args=(path, url, barrier)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(300)
        assert [p.exitcode for p in procs] == [0, 0, 0]
