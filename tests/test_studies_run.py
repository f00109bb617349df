"""The optuna runner: batched ask/tell, constraints, storage, resume, workers, outputs."""
from __future__ import annotations

import math
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from studies import run as runmod
from studies.simulate_file import dumps_toml
from studies.spec import load, loads
from studies import study as studymod

EXAMPLES = Path(__file__).resolve().parents[1] / "studies" / "examples"




def complete(study):
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def test_evaluate_params_batched_equals_single_and_tandem():
    import tandem

    s = load(EXAMPLES / "quick.toml")
    rng = np.random.default_rng(3)
    params = [{k: float(rng.uniform(b.low, b.high)) for k, b in s.parameters.items()} for _ in range(6)]
    batched = runmod.evaluate_params(s, params, batched=True)
    single = runmod.evaluate_params(s, params, batched=False)
    for p, a, b in zip(params, batched, single):
        assert a.error is None and b.error is None
        assert a.values[0] == pytest.approx(b.values[0], rel=1e-9)
        ref = tandem.evaluate(s.design(p), with_cri=False)
        assert a.metrics["pce_pct"] == pytest.approx(ref.pce_pct, rel=1e-9)
        assert a.metrics["abs_mismatch_ma_cm2"] == pytest.approx(abs(ref.mismatch_ma_cm2))
        viol = a.violations["abs_mismatch_ma_cm2<=3"]
        assert viol == pytest.approx(abs(ref.mismatch_ma_cm2) - 3.0)
        assert a.feasible == (abs(ref.mismatch_ma_cm2) <= 3.0)


def test_run_in_memory_records_metrics_and_constraints(study_file, tmp_path):
    path = study_file(tmp_path, "t", n_trials=24, batch_size=8, seed=5)
    s = load(path)
    res = runmod.run_study(s, storage="memory")
    trials = complete(res.study)
    assert len(trials) == 24
    for t in trials:
        m = runmod.trial_metrics(t)
        assert t.values[0] == pytest.approx(m["pce_pct"])
        for key in ("top_jsc_ma_cm2", "bottom_jsc_ma_cm2", "mismatch_ma_cm2", "total_thickness_nm",
                    "absorber_thickness_nm", "abs_mismatch_ma_cm2"):
            assert key in m
        # optuna's own constraint record agrees with our attribute
        (name, v), = t.constraints.items()
        assert name == "abs_mismatch_ma_cm2<=3"
        assert v == pytest.approx(m["abs_mismatch_ma_cm2"] - 3.0)
        assert t.user_attrs["feasible"] == (v <= 0)
    # best = best feasible, and it agrees with optuna's constraint-aware best_trial
    feas = [t for t in trials if t.user_attrs["feasible"]]
    if feas:
        assert res.best[0].number == max(feas, key=lambda t: t.values[0]).number
        assert res.study.best_trial.number == res.best[0].number


def test_infeasible_trials_are_kept_and_flagged(study_file, tmp_path):
    path = study_file(tmp_path, "t", n_trials=10, batch_size=5, seed=1,
                      constraints=[{"metric": "pce_pct", "max": 1.0}])
    res = runmod.run_study(load(path), storage="memory")
    trials = complete(res.study)
    assert len(trials) == 10                      # scored, not dropped
    assert all(t.user_attrs["feasible"] is False for t in trials)
    assert all(t.user_attrs["violations"]["pce_pct<=1"] > 0 for t in trials)
    assert res.best == []
    with pytest.raises(ValueError):
        res.study.best_trial                     # optuna also sees no feasible trial


@pytest.mark.slow
def test_same_seed_same_trials_and_other_seed_differs(study_file, tmp_path):
    s = load(study_file(tmp_path, "t", n_trials=20, batch_size=5, seed=11))
    a = runmod.run_study(s, storage="memory").study
    b = runmod.run_study(s, storage=f"sqlite:///{tmp_path / 'r.db'}").study
    d = runmod.run_study(s).study                 # the default journal file
    j = runmod.run_study(s, storage=str(tmp_path / "r.journal")).study   # optuna journal file
    c = runmod.run_study(s, storage="memory", seed=12).study
    pa = [t.params for t in complete(a)]
    for other in (b, d, j):
        assert [t.params for t in complete(other)] == pa
        assert [t.values for t in complete(other)] == [t.values for t in complete(a)]
    assert pa != [t.params for t in complete(c)]


@pytest.mark.slow
@pytest.mark.parametrize("storage", [None, "journal"])
def test_resume_tops_up_without_duplicates(study_file, tmp_path, storage):
    path = study_file(tmp_path, "t", n_trials=12, batch_size=4, seed=2)
    s = load(path)
    url = None if storage is None else str(tmp_path / "t.journal")
    r1 = runmod.run_study(s, storage=url)
    if storage is None:                           # default storage: journal beside the study file
        journal = (tmp_path / "t.optuna.journal").resolve()
        assert r1.storage_url == "journal://" + str(journal)
        assert journal.is_file() and not (tmp_path / "t.db").exists()
    else:
        assert isinstance(r1.study._storage, optuna.storages.JournalStorage)
    first = {t.number: (t.params, t.values) for t in complete(r1.study)}
    assert len(first) == 12
    r2 = runmod.run_study(s, n_trials=20, storage=url)
    trials = complete(r2.study)
    assert len(trials) == 20 and len({t.number for t in trials}) == 20
    for t in trials:
        if t.number in first:
            assert (t.params, t.values) == first[t.number]
    r3 = runmod.run_study(s, n_trials=20, storage=url)   # already there: nothing to do
    assert len(complete(r3.study)) == 20 and len(r3.study.trials) == 20
    # a fresh process reading the storage sees every trial with its attributes
    again = runmod.load_study(r3.storage_url, "t")
    assert [(t.number, t.params, t.values, t.user_attrs) for t in complete(again)] == \
        [(t.number, t.params, t.values, t.user_attrs) for t in trials]


def test_study_started_in_sqlite_beside_the_file_is_continued(study_file, tmp_path):
    # the default was <stem>.db before the journal: such studies continue where they are
    path = study_file(tmp_path, "t", n_trials=8, batch_size=4, seed=2)
    s = load(path)
    runmod.run_study(s, storage=str(tmp_path / "t.db"))
    assert runmod.storage_url(s) == "sqlite:///" + str((tmp_path / "t.db").resolve())
    res = runmod.run_study(s, n_trials=12)
    assert len(complete(res.study)) == 12
    assert not (tmp_path / "t.optuna.journal").exists()


def test_study_name_with_other_design_space_is_refused(study_file, tmp_path):
    path = study_file(tmp_path, "t", n_trials=4, batch_size=4)
    runmod.run_study(load(path))
    raw = tomllib.loads(path.read_text())
    raw["layers"][4]["thickness_nm"] = {"min": 100, "max": 500}
    path.write_text(dumps_toml(raw))
    with pytest.raises(ValueError, match="already exists"):
        runmod.run_study(load(path))


@pytest.mark.slow
def test_stale_trials_of_dead_workers_are_failed(study_file, tmp_path):
    path = study_file(tmp_path, "t", n_trials=4, batch_size=4)
    s = load(path)
    url = runmod.storage_url(s)
    study = runmod.open_study(s, url)
    dead = study.ask(runmod.distributions(s))
    dead.set_user_attr("worker", f"{__import__('socket').gethostname()}:999999999:1")
    alive = study.ask(runmod.distributions(s))
    alive.set_user_attr("worker", studymod._worker_id())
    assert runmod.fail_stale_trials(study) == 1
    states = {t.number: t.state for t in study.get_trials()}
    assert states[dead.number] == TrialState.FAIL and states[alive.number] == TrialState.RUNNING
    assert study.get_trials()[dead.number].user_attrs["stale"] is True
    study.tell(alive, state=TrialState.FAIL)
    res = runmod.run_study(s)
    assert len(complete(res.study)) == 4


def test_remote_worker_liveness_lives_on_its_trials(study_file, tmp_path, monkeypatch):
    """A worker on another machine is judged by the sign of life on its running trials: the
    one renewed recently stays, the silent one is failed; the study gains no attribute per
    worker (they only ever accumulated), and a legacy study-level sign of life still counts."""
    import time

    from studies import mirror as mirrormod
    from studies import storage as storage_mod

    s = load(study_file(tmp_path, "alive", n_trials=4, batch_size=4, sampler="random"))
    study = runmod.open_study(s, f"sqlite:///{tmp_path / 'alive.db'}")
    dists = runmod.distributions(s)
    mirror = mirrormod.MirroredStudy(study, dists, "elsewhere:11:1", heartbeat=False)
    live, silent = mirror.ask(), mirror.ask()
    legacy = study.ask(dists)
    legacy.set_user_attr("worker", "elsewhere:12:1")
    storage = studymod.storage_of(study)
    started = storage.get_trial(live.shared_id).datetime_start.timestamp()
    stop = mirror.start_liveness(0.05, lambda: [live])
    try:                # wait until `live` was renewed 1 s after the trials started
        deadline = time.time() + 60
        while (storage.get_trial(live.shared_id).system_attrs.get(studymod.ALIVE_KEY, 0) - started < 1.0
               and time.time() < deadline):
            time.sleep(0.02)
    finally:
        stop()
    # a grace period that the trials' start exceeds and the renewal does not (0.5 s margin)
    monkeypatch.setattr(storage_mod, "STALE_GRACE_S", time.time() - started - 0.5)
    storage.set_study_system_attr(studymod.study_id_of(study),
                                  studymod.LEGACY_ALIVE_PREFIX + "elsewhere:12:1", time.time())
    assert runmod.fail_stale_trials(study) == 1
    states = {studymod.trial_id_of(t): t.state for t in study.get_trials()}
    assert states[live.shared_id] == TrialState.RUNNING
    assert states[silent.shared_id] == TrialState.FAIL
    assert states[studymod.trial_id_of(legacy)] == TrialState.RUNNING
    assert isinstance(study.get_trials()[0].system_attrs.get(studymod.ALIVE_KEY), float)
    attrs = studymod.storage_of(study).get_study_system_attrs(studymod.study_id_of(study))
    assert [k for k in attrs if k.startswith("qdtandem:alive")] == \
        [studymod.LEGACY_ALIVE_PREFIX + "elsewhere:12:1"]   # the one this test wrote
    studymod.record_alive(study, [silent.shared_id])          # finished: skipped, no error


@pytest.mark.slow
def test_two_worker_processes_share_the_journal(study_file, tmp_path):
    import dataclasses

    path = study_file(tmp_path, "t", n_trials=40, batch_size=4, seed=3)
    s = load(path)
    # workers get the spec object itself, not the file: in-memory changes reach them
    s = dataclasses.replace(s, study=dataclasses.replace(s.study, name="renamed"))
    res = runmod.run_study(s, workers=2, storage=str(tmp_path / "w.journal"))
    assert res.storage_url.startswith("journal://")
    assert res.study.study_name == "renamed"
    trials = complete(res.study)
    assert 40 <= len(trials) <= 40 + 2 * 4       # a worker may finish one batch past the target
    assert len({t.number for t in trials}) == len(trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["tpe", "cmaes", "nsga2", "qmc", "random", "grid"])
def test_every_sampler_runs(study_file, tmp_path, sampler):
    path = study_file(tmp_path, name=f"s_{sampler}", n_trials=12, batch_size=6, seed=0,
                      sampler=sampler, grid_points=2,
                      sampler_options={"population_size": 6} if sampler == "nsga2" else None)
    res = runmod.run_study(load(path))             # default journal file
    trials = complete(res.study)
    assert all("worker" in t.user_attrs for t in trials)
    if sampler == "grid":
        assert len(trials) == 8                   # 2 x 2 x 2 grid, capped
        grid = {tuple(sorted(t.params.items())) for t in trials}
        assert len(grid) == 8
    else:
        assert len(trials) == 12
    assert all(np.isfinite(t.values[0]) for t in trials)


def test_multi_objective_pareto_front(study_file, tmp_path):
    path = study_file(tmp_path, name="mo", base="cspbi3qd_window_st.toml", n_trials=30,
                      batch_size=10, sampler_options={"population_size": 10})
    s = load(path)
    res = runmod.run_study(s, storage="memory", out_dir=tmp_path / "out")
    front = res.best
    assert front
    for t in front:
        m = runmod.trial_metrics(t)
        assert t.values == pytest.approx([m["pce_pct"], m["avt_pct"]])
        assert m["avt_pct"] >= 20.0 and t.user_attrs["feasible"]
    # no feasible trial dominates a front member
    feas = runmod.feasible_trials(res.study)
    for t in front:
        assert not any(all(a >= b for a, b in zip(o.values, t.values)) and o.values != t.values
                       for o in feas)
    assert (tmp_path / "out" / "pareto.csv").exists()
    assert len(list((tmp_path / "out" / "pareto").glob("*.toml"))) == len(front)


@pytest.mark.slow
def test_outputs_and_best_design_reproduces(study_file, tmp_path):
    import tandem

    path = study_file(tmp_path, "t", n_trials=16, batch_size=8, seed=4, constraints=None)
    s = load(path)
    res = runmod.run_study(s, out_dir=tmp_path / "out")
    files = res.files
    df_csv = pd.read_csv(files["trials_csv"])
    df_pq = pd.read_parquet(files["trials_parquet"])
    assert len(df_csv) == len(df_pq) == 16
    for col in ("number", "state", "objective:pce_pct", "qd.thickness_nm", "qd.bandgap_ev",
                "pce_pct", "top_jsc_ma_cm2", "feasible", "worker"):
        assert col in df_pq.columns
    np.testing.assert_allclose(df_pq["objective:pce_pct"], df_pq["pce_pct"])
    best = res.best[0]
    assert df_pq["pce_pct"].max() == pytest.approx(best.values[0])
    sim = load(files["best_design"], require_study=False)
    again = tandem.evaluate(sim.design({}), with_cri=False)
    assert again.pce_pct == pytest.approx(best.values[0], abs=1e-3)
    # study attributes a report can read back
    attrs = res.study.user_attrs
    assert loads(attrs["study_file_text"], require_study=True).parameters == s.parameters
    assert attrs["objective_metrics"] == ["pce_pct"]
    imp = attrs["param_importances"]["pce_pct"]
    assert set(imp) == set(s.parameters) and sum(imp.values()) == pytest.approx(1.0)
    assert pd.read_csv(files["importances_csv"])["parameter"].isin(list(s.parameters)).all()


def test_failed_design_is_recorded_not_fatal(study_file, tmp_path, monkeypatch):
    path = study_file(tmp_path, "t", n_trials=6, batch_size=3, seed=0)
    s = load(path)
    real = type(s).design

    def flaky(self, values=None):
        if values and values["qd.thickness_nm"] > 500:
            raise ValueError("qd: simulated bad design")
        return real(self, values)

    monkeypatch.setattr(type(s), "design", flaky)
    res = runmod.run_study(s, storage="memory")
    trials = res.study.get_trials()
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert all("simulated bad design" in t.user_attrs["error"] for t in failed)
    assert len(trials) == 6
    assert runmod.counted_trials(res.study) == (6, 0)


def test_timeout_stops_asking(study_file, tmp_path, monkeypatch):
    import types

    from studies import runner

    # a clock that moves 1 s per evaluated batch: with timeout 2.5 s exactly 3 batches run
    clock = [0.0]
    real_evaluate = runner.evaluate_params

    def slow_evaluate(*args, **kw):
        clock[0] += 1.0
        return real_evaluate(*args, **kw)

    monkeypatch.setattr(runner, "time", types.SimpleNamespace(perf_counter=lambda: clock[0],
                                                              monotonic=lambda: clock[0]))
    monkeypatch.setattr(runner, "evaluate_params", slow_evaluate)
    path = study_file(tmp_path, "t", n_trials=10_000, batch_size=4, seed=0)
    res = runmod.run_study(load(path), storage="memory", timeout_s=2.5)
    assert len(complete(res.study)) == 12 and len(res.study.trials) == 12


def test_storage_url_rules(study_file, tmp_path, monkeypatch):
    s = load(study_file(tmp_path, "t", storage="sub/x.db"))
    assert runmod.storage_url(s) == "sqlite:///" + str((tmp_path / "sub" / "x.db").resolve())
    assert runmod.storage_url(s, "postgresql://u@h/db") == "postgresql://u@h/db"
    assert runmod.storage_url(s, "sqlite:///rel.db") == "sqlite:///rel.db"
    # journal files: by URL or by a path ending in .journal / .log, relative to the study file
    for given in ("sub/x.journal", "journal://sub/x.journal", "sub/x.log"):
        sj = load(study_file(tmp_path, name="j", storage=given))
        want = (tmp_path / given.replace("journal://", "")).resolve()
        assert runmod.storage_url(sj) == "journal://" + str(want)
    # --storage paths are relative to the working directory
    monkeypatch.chdir(tmp_path)
    here = tmp_path.resolve()
    assert runmod.storage_url(s, "a.journal") == "journal://" + str(here / "a.journal")
    assert runmod.storage_url(s, "journal:///abs/b.journal") == "journal:///abs/b.journal"
    assert runmod.storage_url(s, "c.db") == "sqlite:///" + str(here / "c.db")
    st = runmod.open_storage("journal://" + str(tmp_path / "new" / "d.journal"))
    assert isinstance(st, optuna.storages.JournalStorage) and (tmp_path / "new" / "d.journal").is_file()
    with pytest.raises(ValueError, match="not a URL"):
        runmod.open_storage("x.db")
    with pytest.raises(ValueError, match="shared storage"):
        runmod.run_study(s, storage="memory", workers=2)


@pytest.mark.slow
def test_read_back_helpers(study_file, tmp_path):
    path = study_file(tmp_path, "t", n_trials=4, batch_size=4)
    s = load(path)
    runmod.run_study(s)
    url = runmod.storage_url(s)
    study = runmod.load_study(url, "t")
    assert runmod.spec_of_study(study).parameters == s.parameters
    assert runmod.load_study(str(tmp_path / "t.optuna.journal"), "t").study_name == "t"
    with pytest.raises(ValueError, match=r"no study named 'nope'.*\['t'\]"):
        runmod.load_study(url, "nope")
    for missing in ("missing.db", "missing.journal"):
        with pytest.raises(ValueError, match="no such study storage file"):
            runmod.load_study(str(tmp_path / missing), "t")
        with pytest.raises(ValueError, match="no such study storage file"):
            runmod.load_study(runmod.storage_url(s, str(tmp_path / missing)), "t")
        assert not (tmp_path / missing).exists()        # reading creates no storage


# textured examples solve the wafer's ray optics (seconds per design): slow
@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if "textured" in p.stem else [])
                                  for p in sorted(EXAMPLES.glob("*.toml"))])
def test_every_example_runs(path):
    s = load(path)
    res = runmod.run_study(s, storage="memory", n_trials=6, batch_size=6)
    trials = complete(res.study)
    assert len(trials) == 6
    import tandem
    from tandem.limits import sq_limit, tandem_limit

    for t in trials:
        m = runmod.trial_metrics(t)
        design = s.design(t.params)
        ref = tandem.evaluate(design, with_cri=False)       # one design alone, not in the batch
        for k in ("pce_pct", "top_jsc_ma_cm2", "bottom_jsc_ma_cm2", "avt_pct"):
            want = getattr(ref, k, None) if k in ("pce_pct", "avt_pct") else ref.to_dict()[k]
            assert m.get(k, math.nan) == pytest.approx(want, rel=1e-9, nan_ok=True), k
        # and below the detailed-balance limit of its top absorber's bandgap (bottom: its own
        # bandgap when the material has one, else the best bottom bandgap for that top cell)
        top_gap = design.stack.layers[design.top.absorber].material.bandgap_ev
        if s.kind in ("2T", "4T"):
            bottom_gap = getattr(design.stack.layers[design.bottom.absorber].material, "bandgap_ev", None)
            bottoms = np.array([bottom_gap]) if bottom_gap else np.linspace(0.5, top_gap - 0.01, 300)
            limit = float(np.max(tandem_limit(top_gap, bottoms, kind=s.kind)))
        else:
            limit = float(sq_limit(top_gap).pce_pct)
        assert m["pce_pct"] < limit


def test_pce_vs_absorber_thickness(study_file, tmp_path):
    path = study_file(tmp_path, name="thick", objectives=["pce", "absorber_thickness"],
                      n_trials=16, batch_size=8, constraints=None)
    s = load(path)
    assert s.study.directions == ["maximize", "minimize"]
    res = runmod.run_study(s, storage="memory")
    for t in complete(res.study):
        m = runmod.trial_metrics(t)
        assert t.values == pytest.approx([m["pce_pct"], m["absorber_thickness_nm"]])
        assert m["absorber_thickness_nm"] == pytest.approx(s.derived_metrics(t.params)["absorber_thickness_nm"])
    front = res.best
    assert front and all(not any(o.values[0] >= t.values[0] and o.values[1] <= t.values[1]
                                 and o.values != t.values for o in complete(res.study))
                         for t in front)
    attrs = res.study.user_attrs
    assert attrs["directions"] == ["maximize", "minimize"]
    assert {"python", "optuna", "numpy"} <= set(attrs["versions"])


def test_journal_file_is_plain_optuna_journal(study_file, tmp_path):
    """The journal storage is optuna's own journal format: stock optuna reads it back, and
    each batch is fsynced (``sync``) after its trials are told."""
    path = study_file(tmp_path, "t", n_trials=8, batch_size=4, seed=6)
    s = load(path)
    res = runmod.run_study(s, storage=str(tmp_path / "t.optuna.journal"))
    backend = res.study._storage._backend
    assert isinstance(backend, runmod.LocalJournalFile) and backend._dirty is False
    stock = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "t.optuna.journal")))
    again = optuna.load_study(study_name="t", storage=stock)
    assert [(t.params, t.values, t.user_attrs) for t in complete(again)] == \
        [(t.params, t.values, t.user_attrs) for t in complete(res.study)]
    # a second process appending to the same file is seen by the first one
    other = runmod.open_study(s, res.storage_url)
    t = other.ask(runmod.distributions(s))
    other.tell(t, state=TrialState.FAIL)
    assert len(res.study.get_trials()) == 9


@pytest.mark.slow
def test_run_study_takes_an_optuna_storage_object(study_file, tmp_path):
    # as optuna.create_study: a storage object instead of a URL, also for several workers
    path = study_file(tmp_path, "t", n_trials=6, batch_size=3, seed=2)
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'obj.db'}")
    res = runmod.run_study(load(path), storage=storage)
    assert len(complete(res.study)) == 6
    again = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'obj.db'}")
    assert len(complete(again)) == 6
