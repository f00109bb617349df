"""The batch helper (studies/batch_helper.py): a forked process that samples and evaluates half
of every batch of a lone worker; runs stay reproducible, complete and free of repeated designs,
and the worker carries on alone when the helper fails or is not wanted."""
from __future__ import annotations

import os
import sys

import pytest
from optuna.trial import TrialState

from studies import batch_helper
from studies import run as runmod
from studies.runner import worker_seed
from studies.spec import load

from conftest import write_study

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
    reason="the batch helper needs Linux (fork) and >= 2 cores")


def _designs(study):
    return [tuple(sorted(t.params.items())) for t in study.get_trials(deepcopy=False)]


def test_helper_run_is_reproducible_complete_and_never_repeats_a_design(tmp_path):
    s = load(write_study(tmp_path, "h", n_trials=24, batch_size=8, seed=3))     # TPE
    assert batch_helper.wanted(s, 8)
    a = runmod.run_study(s, storage="memory", helper=True).study
    b = runmod.run_study(s, storage=str(tmp_path / "h.journal"), helper=True).study
    assert _designs(a) == _designs(b)
    assert all(t.state == TrialState.COMPLETE for t in a.trials)
    assert len(set(_designs(a))) == len(a.trials) == 24
    # the helper drew its half of the batches from its own stream: not a lone worker's run
    alone = runmod.run_study(s, storage="memory", helper=False).study
    assert _designs(alone) != _designs(a)
    assert _designs(alone)[:8] == _designs(a)[:8]          # first batch: the worker alone


def test_worker_samples_and_evaluates_alone_when_the_helper_dies(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_helper, "_helper_main", lambda conn, worker_end, spec: os._exit(3))
    s = load(write_study(tmp_path, "d", n_trials=16, batch_size=8, seed=2))
    res = runmod.run_study(s, storage="memory", helper=True)
    assert [t.state for t in res.study.trials] == [TrialState.COMPLETE] * 16
    assert len(set(_designs(res.study))) == 16


def test_helper_exits_when_the_worker_end_closes(tmp_path):
    s = load(write_study(tmp_path, "e", n_trials=8, batch_size=8, seed=1))
    h = batch_helper.BatchHelper(s, seed=1)
    h._start()
    assert h._proc.is_alive()
    h._conn.close()                      # as when the worker process is killed
    h._proc.join(timeout=10)
    assert not h._proc.is_alive()


def test_helper_stream_differs_from_every_worker_stream():
    assert batch_helper.helper_seed(None, 5) is None
    seeds = {batch_helper.helper_seed(1, n) for n in range(50)}
    assert len(seeds) == 50
    assert not seeds & {worker_seed(1, n) for n in range(50)}


def test_helper_only_for_stateless_samplers_and_real_batches(tmp_path):
    for sampler, bs, want in (("tpe", 16, True), ("random", 4, True), ("tpe", 2, False),
                              ("nsga2", 16, False), ("cmaes", 16, False)):
        s = load(write_study(tmp_path, f"w_{sampler}_{bs}", n_trials=8, batch_size=bs,
                             sampler=sampler, sampler_options=None))
        assert batch_helper.wanted(s, bs) is want, (sampler, bs)
