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
