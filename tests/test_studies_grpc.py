"""Workers through optuna's gRPC storage proxy (``qdtandem proxy``): one proxy in front of
the database, several ``qdtandem optimize --storage grpc://...`` commands, no design twice.
Skips without grpcio (the ``grpc`` extra)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("grpc")

import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from studies import run as runmod  # noqa: E402
from studies.spec import load  # noqa: E402

from conftest import write_study  # noqa: E402
from test_studies_integrity import twice  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def start_proxy(storage_url: str, port: int) -> subprocess.Popen:
    """``qdtandem proxy`` on 127.0.0.1:port, returned once it answers."""
    proxy = subprocess.Popen([sys.executable, "-m", "studies.cli", "proxy", "--storage", storage_url,
                              "--host", "127.0.0.1", "--port", str(port)],
                             cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    t0 = time.time()
    while time.time() - t0 < 120:
        if proxy.poll() is not None:
            raise AssertionError(f"proxy exited: {proxy.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proxy
        except OSError:
            time.sleep(0.2)
    proxy.kill()
    raise AssertionError("proxy did not start")


def test_grpc_url_opens_optuna_proxy():
    st = runmod.open_storage("grpc://127.0.0.1:1")      # connects lazily
    assert isinstance(st, optuna.storages.GrpcStorageProxy)


@pytest.mark.slow
def test_workers_of_two_commands_through_one_proxy(tmp_path):
    path = write_study(tmp_path, "gp", n_trials=32, batch_size=4, seed=1)
    db = f"sqlite:///{tmp_path / 'behind_proxy.db'}"
    port = _free_port()
    proxy = start_proxy(db, port)
    try:
        url = f"grpc://127.0.0.1:{port}"
        cmds = [subprocess.Popen([sys.executable, "-m", "studies.cli", "optimize", str(path),
                                  "--storage", url, "--workers", "2", "--seed", "1", "--no-progress",
                                  "--out", str(tmp_path / f"out{i}")],
                                 cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for i in range(2)]
        for c in cmds:
            _, err = c.communicate(timeout=600)
            assert c.returncode == 0, err
    finally:
        proxy.terminate()
        proxy.wait(30)
    study = optuna.load_study(study_name="gp", storage=runmod.open_storage(db))
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE or "error" in t.user_attrs]
    assert 32 <= len(done) <= 32 + 4 * 4                  # at most one batch per worker beyond
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert twice(study) == 0
    assert len({t.user_attrs["worker"] for t in done}) >= 3   # the workers of both commands


_REMOTE_WORKER = r"""
import socket, sys, time
socket.gethostname = lambda: "elsewhere"       # a worker on another machine
from studies import runner
from studies.spec import load
real, calls = runner.evaluate_params, []
def evaluate(spec, params, **kw):
    calls.append(1)
    if len(calls) > 1:                         # hangs in its second batch, until killed
        print("hanging", flush=True)
        time.sleep(600)
    return real(spec, params, **kw)
runner.evaluate_params = evaluate
runner.run_worker(load(sys.argv[1]), sys.argv[2], seed=3)
"""


@pytest.mark.slow
def test_trials_of_a_killed_remote_worker_are_failed_and_run_again(tmp_path, monkeypatch):
    """A worker on another machine, behind the proxy, is killed (-9) in a batch: optuna's
    gRPC proxy has no heartbeat, so the worker's sign of life goes stale; the next run
    fails its RUNNING trials (``stale``) and runs their designs again, each exactly once."""
    path = write_study(tmp_path, "gk", n_trials=12, batch_size=4, seed=1, sampler="random")
    db = f"sqlite:///{tmp_path / 'killed.db'}"
    port = _free_port()
    proxy = start_proxy(db, port)
    url = f"grpc://127.0.0.1:{port}"
    try:
        w = subprocess.Popen([sys.executable, "-c", _REMOTE_WORKER, str(path), url], cwd=REPO,
                             env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = w.stdout.readline()
            assert line.strip() == "hanging", w.stderr.read()
        finally:
            w.kill()
            w.wait(30)
        study = optuna.load_study(study_name="gk", storage=runmod.open_storage(db))
        lost = study.get_trials(states=(TrialState.RUNNING,))
        assert len(lost) == 4 and all(t.user_attrs["worker"].startswith("elsewhere:") for t in lost)
        from studies import storage as storage_mod
        monkeypatch.setattr(storage_mod, "STALE_GRACE_S", 1)
        time.sleep(1.5)                          # its last sign of life is older than that now
        res = runmod.run_study(load(path), storage=url, seed=5)
    finally:
        proxy.terminate()
        proxy.wait(30)
    study = optuna.load_study(study_name="gk", storage=runmod.open_storage(db))
    trials = study.get_trials()
    stale = [t for t in trials if t.user_attrs.get("stale")]
    assert sorted(t.number for t in stale) == sorted(t.number for t in lost)
    assert all(t.state == TrialState.FAIL for t in stale)
    for t in stale:             # each design of the killed batch ran again, once
        again = [u for u in trials if u.user_attrs.get("retry_of") == t.number]
        assert len(again) == 1 and again[0].state == TrialState.COMPLETE
        assert again[0].params == t.params
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert twice(study) == 0
    assert runmod.counted_trials(study)[0] >= 12 and res.stats.n_told >= 8
