"""A study never evaluates a design twice, survives a cut storage file, and leaves no orphans
(issue 12): seeds of concurrent and resumed runs, cut journals, racing SQLite creation,
workers whose parent was killed, and rebuilding the outputs from the storage."""
from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from studies import run as runmod
from studies.spec import load

from conftest import write_study


def make_study(tmp_path: Path, name: str = "t", **study) -> Path:
    return write_study(tmp_path, name, **study)

ROOT = Path(__file__).resolve().parents[1]


def evaluated_designs(study) -> Counter:
    """How often each design was evaluated (trials that carry metrics or an error)."""
    names = sorted(study.user_attrs["parameters"])
    return Counter(tuple(t.params[n] for n in names) for t in study.get_trials(deepcopy=False)
                   if "metrics" in t.user_attrs or "error" in t.user_attrs)


def twice(study) -> int:
    return sum(c - 1 for c in evaluated_designs(study).values() if c > 1)


@pytest.mark.slow
def test_runs_with_overlapping_seeds_never_replay_each_other(tmp_path):
    # worker i seeded with seed + i: worker 1 of the --seed 1 run replayed worker 0 of --seed 2
    s = load(make_study(tmp_path, n_trials=24, batch_size=4, seed=1, sampler="random"))
    db = f"sqlite:///{tmp_path / 'o.db'}"
    runmod.run_study(s, storage=db, workers=2, seed=1)
    res = runmod.run_study(s, storage=db, workers=2, seed=2, n_trials=48)
    done, running = runmod.counted_trials(res.study)
    assert 48 <= done <= 48 + 2 * 4 and running == 0      # at most a batch per worker beyond
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


# ----------------------------------------------------------------------------- orphans, export

def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:                                   # a zombie is dead (its parent, us, has not reaped it)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_workers_stop_when_their_parent_is_killed_and_export_rebuilds_outputs(tmp_path):
    from test_studies_cli import _snapshot, _start, _wait_for

    path = make_study(tmp_path, name="orphan", n_trials=100_000, batch_size=4, constraints=None)
    url = runmod.storage_url(load(path))
    p = _start(path, tmp_path / "out", "--workers", "2")
    _wait_for(url, "orphan", 12, p, timeout=180)
    study = runmod.load_study(url, "orphan")
    workers = {int(t.user_attrs["worker"].split(":")[1]) for t in study.trials
               if "worker" in t.user_attrs}
    assert len(workers) == 2 and p.pid not in workers
    p.kill()                                           # kill -9 of the parent
    p.wait()
    t0 = time.time()
    while any(_alive(w) for w in workers) and time.time() - t0 < 60:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "workers ran on after their parent died"
    done, running = _snapshot(url, "orphan")
    assert running == []                               # their last batches were stored or failed
    assert not (tmp_path / "out").exists()             # the parent wrote nothing ...
    from studies import cli
    out = tmp_path / "exported"
    assert cli.main(["export", str(path), "--out", str(out)]) == 0   # ... export rebuilds it
    import pandas as pd
    df = pd.read_csv(out / "trials.csv")
    assert (df["state"] == "COMPLETE").sum() == len(done)
    assert (out / "trials.parquet").is_file() and (out / "best_design.toml").is_file()


@pytest.mark.slow
def test_export_rebuilds_outputs_from_the_storage(tmp_path, capsys, monkeypatch):
    from studies import cli

    path = make_study(tmp_path, name="ex", n_trials=8, batch_size=4, seed=1, constraints=None)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["optimize", str(path), "--no-progress"]) == 0
    first = (tmp_path / "runs" / "ex" / "trials.csv").read_text()
    for f in (tmp_path / "runs" / "ex").iterdir():
        if f.is_file():
            f.unlink()
    capsys.readouterr()
    assert cli.main(["export", str(path)]) == 0
    assert "wrote best_design" in capsys.readouterr().out
    assert (tmp_path / "runs" / "ex" / "trials.csv").read_text() == first


# ----------------------------------------------------------------------------- small ones

@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "/abs"])
def test_study_name_cannot_write_outside_runs(tmp_path, capsys, monkeypatch, name):
    from studies import cli

    path = make_study(tmp_path, name="esc", n_trials=4, batch_size=4)
    path.write_text(path.read_text().replace('name = "esc"', f'name = "{name}"'))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert cli.main(["optimize", str(path), "--no-progress", "--storage", "memory"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qdtandem: error: study name") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_dir()) == ["work"]


def test_rerunning_a_complete_study_says_so(tmp_path, capsys):
    from studies import cli

    path = make_study(tmp_path, name="done", n_trials=4, batch_size=4)
    args = ["optimize", str(path), "--no-progress", "--out", str(tmp_path / "o")]
    assert cli.main(args) == 0
    assert "study complete" not in capsys.readouterr().out
    assert cli.main(args) == 0
    assert capsys.readouterr().out.startswith("study complete (4 of 4); use --trials N to add more\n")


def test_ctrl_c_during_start_up_is_one_line(tmp_path, capsys, monkeypatch):
    from studies import cli, spec as specmod

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(specmod, "load", interrupted)
    assert cli.main(["optimize", str(tmp_path / "x.toml")]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "qdtandem: interrupted"


def test_postgres_extra_installs_the_driver_optuna_uses():
    # SQLAlchemy 2.1 reads a bare postgresql:// URL as psycopg 3: the extra must install it
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.replace(" ", "").startswith("psycopg[binary]") for d in extras["postgres"])
    import sqlalchemy
    dialect = sqlalchemy.engine.make_url("postgresql://u@h/db").get_dialect()
    assert dialect.driver == "psycopg"
