"""Distributed optimisation on a real PostgreSQL server (optuna's shared RDB storage).

The fixture starts a throwaway server (initdb into a temporary directory, pg_ctl on a free
localhost port, as the ``postgres`` user when running as root) and removes it afterwards.
Skips cleanly when the PostgreSQL binaries or psycopg2 are not installed.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "studies" / "examples"


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    cands = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return cands[-1] if cands else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg2")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed")
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:   # postgres refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run the server")
        runuser = shutil.which("runuser")
        run_as = [runuser, "-u", "postgres", "--"] if runuser else None
        if run_as is None:
            pytest.skip("running as root without runuser")
    # /tmp itself: pytest's tmp_path is not traversable by the postgres user
    base = tempfile.mkdtemp(prefix="qdt-pg-", dir="/tmp")
    data, sock = os.path.join(base, "data"), os.path.join(base, "sock")
    os.mkdir(sock)
    if owner is not None:
        for p in (base, sock):
            os.chown(p, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    log = os.path.join(base, "server.log")
    try:
        subprocess.run(run_as + [initdb, "-D", data, "-A", "trust", "-U", "qdt", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run(run_as + [pg_ctl, "-D", data, "-l", log, "-w", "-t", "60", "-o",
                                 f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
                                 "start"], check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        logtext = Path(log).read_text() if os.path.exists(log) else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start a PostgreSQL server: {e} {getattr(e, 'stderr', '')} {logtext}")
    try:
        # bare postgresql:// as users type it (studies picks the installed driver)
        yield f"postgresql://qdt@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(run_as + [pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _study(tmp_path: Path, name: str, n_trials: int) -> Path:
    from studies.simulate_file import dumps_toml

    raw = tomllib.loads((EXAMPLES / "quick.toml").read_text())
    raw["study"].update(name=name, n_trials=n_trials, batch_size=4)
    path = tmp_path / f"{name}.toml"
    path.write_text(dumps_toml(raw))
    return path


def test_two_machines_share_one_postgres_study(postgres_url, tmp_path):
    """Two independent `qdtandem optimize --storage URL` processes, as on two machines."""
    import optuna
    from optuna.trial import TrialState

    path = _study(tmp_path, "pg_two_machines", 20)
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


def test_workers_option_against_postgres(postgres_url, tmp_path):
    from optuna.trial import TrialState

    from studies import run as runmod
    from studies.spec import load

    res = runmod.run_study(load(_study(tmp_path, "pg_workers", 16)), storage=postgres_url,
                           workers=2, seed=5)
    done = res.study.get_trials(states=(TrialState.COMPLETE,))
    assert 16 <= len(done) <= 16 + 2 * 4
    assert len({t.user_attrs["worker"] for t in done}) == 2
    # resuming with the same target does nothing more
    n = len(res.study.trials)
    res2 = runmod.run_study(load(_study(tmp_path, "pg_workers", 16)), storage=postgres_url, seed=5)
    assert len(res2.study.trials) == n
