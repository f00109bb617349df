"""A throwaway local PostgreSQL server for tests and benchmarks.

``local_postgres()`` runs initdb into a temporary directory under /tmp and starts the server
with pg_ctl on a free port of 127.0.0.1 only (Unix socket in the same directory, trust
authentication for the user ``qdt``, fsync off), as the ``postgres`` user when running as
root; it yields the URL ``postgresql://qdt@127.0.0.1:<port>/postgres`` and removes everything
afterwards. ``PostgresUnavailable`` says why it cannot (no binaries, no driver, no user).
"""
from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


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


@contextlib.contextmanager
def local_postgres(max_connections: int = 100):
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        raise PostgresUnavailable("no PostgreSQL driver (pip install -e '.[postgres]')")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise PostgresUnavailable("PostgreSQL binaries (initdb, pg_ctl) not installed")
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:   # postgres refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root and no 'postgres' user to run the server") from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PostgresUnavailable("running as root without runuser")
        run_as = [runuser, "-u", "postgres", "--"]
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
                                 f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                                 f"-c max_connections={max_connections}",
                                 "start"], check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        logtext = Path(log).read_text() if os.path.exists(log) else ""
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresUnavailable(f"could not start a PostgreSQL server: {e} "
                                  f"{getattr(e, 'stderr', '')} {logtext}") from None
    try:
        # bare postgresql:// as users type it
        yield f"postgresql://qdt@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(run_as + [pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
