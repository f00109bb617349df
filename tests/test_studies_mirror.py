"""Workers on a server storage sample in a local in-memory study mirrored to the shared one
(studies/mirror.py). Run here on an SQLite file made to look like a server, so no server is
needed: the shared study must hold what ``Study.ask``/``tell`` would have written."""
from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from studies import runner
from studies.mirror import MirroredStudy
from studies.objective import distributions
from studies.spec import load
from studies.study import open_study

from conftest import write_study
from test_studies_integrity import twice


def _run(tmp_path, name, *, mirrored: bool, monkeypatch, **study):
    spec = load(write_study(tmp_path, name, **study))
    with monkeypatch.context() as m:
        if mirrored:   # an SQLite file takes the path of a database server
            m.setattr(runner, "storage_is_local_file", lambda storage: False)
        st = runner.run_worker(spec, f"sqlite:///{tmp_path / (name + '.db')}", seed=7)
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / (name + '.db')}"), st


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_mirrored_worker_writes_what_ask_and_tell_write(tmp_path, monkeypatch, sampler):
    kw = dict(n_trials=24, batch_size=8, sampler=sampler)
    direct, _ = _run(tmp_path, "direct", mirrored=False, monkeypatch=monkeypatch, **kw)
    mirrored, stats = _run(tmp_path, "mirrored", mirrored=True, monkeypatch=monkeypatch, **kw)
    a, b = direct.get_trials(), mirrored.get_trials()
    assert stats.n_told == 24 and len(a) == len(b) == 24
    for x, y in zip(a, b):
        # one worker with a seed draws the same designs whichever path it takes
        assert x.state == y.state == TrialState.COMPLETE
        assert x.params == y.params and x.distributions == y.distributions
        assert x.values == pytest.approx(y.values)
        assert set(x.user_attrs) == set(y.user_attrs) and "worker" in y.user_attrs
        assert x.user_attrs["metrics"] == pytest.approx(y.user_attrs["metrics"])
        assert set(x.system_attrs) == set(y.system_attrs)      # constraints, sampler's notes
        for k, v in x.system_attrs.items():
            assert y.system_attrs[k] == pytest.approx(v) if isinstance(v, float) else True


def test_mirror_gives_way_to_a_design_running_elsewhere(tmp_path):
    spec = load(write_study(tmp_path, "m", n_trials=8, batch_size=2, sampler="random"))
    url = f"sqlite:///{tmp_path / 'm.db'}"
    shared = open_study(spec, url, seed=1)
    dists = distributions(spec)
    me = MirroredStudy(shared, dists, "host:1:1", heartbeat=False)
    other = MirroredStudy(open_study(spec, url, seed=2), dists, "host:2:2", heartbeat=False)
    r_other = other.ask()
    mine = [me.ask(params=r_other.params), me.ask(), me.ask(params=r_other.params)]
    assert me.duplicates(mine) == {0: 0, 2: 0}       # trial 0 runs the design elsewhere
    other.local.tell(r_other.local, 1.0)
    other.copy_told(r_other)
    me.refresh()
    assert me.n_done == 1 and me.n_running == 3
    # once finished, the design still counts; and the finished trial reaches my sampler
    assert me.duplicates([me.ask(params=r_other.params)]) == {0: 0}
    assert len(me.local.get_trials(states=(TrialState.COMPLETE,))) == 1


def test_mirrored_worker_resumes_a_study(tmp_path, monkeypatch):
    spec = load(write_study(tmp_path, "g", n_trials=12, batch_size=4, sampler="tpe"))
    url = f"sqlite:///{tmp_path / 'g.db'}"
    monkeypatch.setattr(runner, "storage_is_local_file", lambda storage: False)
    runner.run_worker(spec, url, seed=1)
    st = runner.run_worker(spec, url, seed=1, n_trials=24)
    assert st.n_told == 12
    study = optuna.load_study(study_name="g", storage=url)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 24
    assert twice(study) == 0
    assert not study.get_trials(states=(TrialState.RUNNING,))
