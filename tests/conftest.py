"""Shared test settings and fixtures.

Hypothesis runs derandomised under CI (CI=true) so that a green main stays
green; locally it explores new examples on every run.

Long tests carry ``@pytest.mark.slow``; ``python -m pytest -m "not slow"`` is the quick loop,
``python -m pytest`` (CI) runs everything.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: the shipped study files
EXAMPLES = Path(__file__).resolve().parents[1] / "studies" / "examples"


def write_study(directory: Path, name: str, base: str = "quick.toml", *, device: dict | None = None,
                **study) -> Path:
    """A copy of the example ``base`` as ``directory/<name>.toml`` with ``[study] name = name``,
    the other ``[study]`` keys replaced by ``study`` (a value of None removes the key) and the
    ``[device]`` keys replaced by ``device``."""
    raw = tomllib.loads((EXAMPLES / base).read_text(encoding="utf-8"))
    raw["study"].update(study, name=name)
    raw["study"] = {k: v for k, v in raw["study"].items() if v is not None}
    raw["device"].update(device or {})
    from studies.simulate_file import dumps_toml

    path = Path(directory) / f"{name}.toml"
    path.write_text(dumps_toml(raw), encoding="utf-8")
    return path


def write_design(directory: Path, name: str, base: str = "quick.toml", *, device: dict | None = None) -> Path:
    """The example ``base`` as a simulate file ``directory/<name>.toml``: every free thickness and
    bandgap at the middle of its bounds, no ``[study]`` table, ``[device]`` keys replaced by ``device``."""
    from studies.simulate_file import dumps_toml
    from studies.spec import load

    spec = load(EXAMPLES / base)
    raw = spec.fixed_raw({k: 0.5 * (b.low + b.high) for k, b in spec.parameters.items()})
    raw["device"].update(device or {})
    path = Path(directory) / f"{name}.toml"
    path.write_text(dumps_toml(raw), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def design_file():
    """``write_design``: a simulate file of a shipped example at the middle of its bounds."""
    return write_design


@pytest.fixture(scope="session")
def study_file():
    """``write_study``: builds a study file from a shipped example (see its docstring)."""
    return write_study


# --------------------------------------------------------------------------- PostgreSQL

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


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a throwaway PostgreSQL server for this test session.

    initdb into a temporary directory, pg_ctl on a free localhost port (as the ``postgres``
    user when running as root); removed afterwards. Skips when no PostgreSQL driver (psycopg,
    or psycopg2) or the PostgreSQL binaries are not installed.
    """
    import importlib.util
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        pytest.skip("no PostgreSQL driver (pip install -e '.[postgres]')")
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
