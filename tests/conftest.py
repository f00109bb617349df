"""Shared test settings and fixtures.

Hypothesis runs derandomised under CI (CI=true) so that a green main stays
green; locally it explores new examples on every run.

Long tests carry ``@pytest.mark.slow``; ``python -m pytest -m "not slow"`` is the quick loop,
``python -m pytest`` (CI) runs everything.
"""
from __future__ import annotations

import os
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

@pytest.fixture(scope="session")
def postgres_url():
    """URL of a throwaway PostgreSQL server for this test session (``pg_server.local_postgres``:
    initdb into a temporary directory, 127.0.0.1 only); skips, saying why, when no driver or
    no PostgreSQL binaries are installed."""
    from pg_server import PostgresUnavailable, local_postgres
    server = local_postgres()
    try:
        url = server.__enter__()
    except PostgresUnavailable as e:
        pytest.skip(str(e))
    try:
        yield url
    finally:
        server.__exit__(None, None, None)
