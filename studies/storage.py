"""Where a study's trials live: storage URLs, opening optuna storages, the local journal file.

Every trial lives in an optuna storage, one study per ``[study] name``. The default is
optuna's journal file beside the study file (``<stem>.optuna.journal``, no server needed; a
study begun in ``<stem>.db`` continues there); any optuna RDB URL (SQLite, PostgreSQL,
MySQL), another journal file (``journal://...`` or a path ending in ``.journal`` / ``.log``),
an optuna storage object or ``"memory"`` (not kept) can be given instead. Only optuna's own
storage formats are written, so ``optuna.load_study`` and optuna-dashboard read every study.

optuna's private names (a study's storage, a journal's backend, a trial's storage id) are used
only in the small adapter at the end of this module.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

if TYPE_CHECKING:
    from .spec import DeviceSpec

STALE_GRACE_S = 300          # optuna heartbeat grace period for RDB storages
HEARTBEAT_INTERVAL_S = 60

JOURNAL_SCHEME = "journal://"
JOURNAL_SUFFIXES = (".journal", ".log")
DEFAULT_JOURNAL_SUFFIX = ".optuna.journal"


def is_journal_url(url: str) -> bool:
    return url.startswith(JOURNAL_SCHEME)


def storage_file(url: str) -> Path | None:
    """The local file behind a journal or SQLite URL (None for servers and ``memory``)."""
    if is_journal_url(url):
        return Path(url[len(JOURNAL_SCHEME):])
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    return None


def _journal_url(path: Path) -> str:
    return JOURNAL_SCHEME + str(path.resolve())


def default_storage_url(spec: DeviceSpec) -> str:
    """optuna's journal file beside the study file: ``<stem>.optuna.journal`` (no server).

    The journal is an append-only log of optuna's storage operations (``LocalJournalFile``):
    as fast as optuna's in-memory storage within ~10 %, where optuna's SQLite storage spends
    ~50 SQL statements per trial; each record reaches the operating system when written, the
    file is fsynced after every batch, and a record cut by a crash is repaired on open
    (``repair_journal``). A study started in the SQLite file ``<stem>.db`` (the default
    before) is continued there when that file exists and the journal does not.
    """
    if spec.source.startswith("<"):
        raise ValueError("a study given as text has no file to put the default storage beside; "
                         "pass storage=...")
    src = Path(spec.source).resolve()
    db = src.with_suffix(".db")
    journal = src.with_name(src.stem + DEFAULT_JOURNAL_SUFFIX)
    if db.is_file() and not journal.exists():
        return "sqlite:///" + str(db)
    return _journal_url(journal)


def _path_url(path: Path) -> str:
    """A plain file path as a storage URL: ``*.journal`` / ``*.log`` -> journal, else SQLite."""
    if path.name.endswith(JOURNAL_SUFFIXES):
        return _journal_url(path)
    return "sqlite:///" + str(path.resolve())


def resolve_storage(given: str) -> str:
    """A ``--storage`` value as a URL (relative paths: from the working directory); see
    ``storage_url``."""
    if given in ("memory", ":memory:"):
        return given
    if is_journal_url(given):
        return _journal_url(Path(given[len(JOURNAL_SCHEME):]))
    if "://" in given:
        return given
    return _path_url(Path(given))


def storage_url(spec: DeviceSpec, override: str | None = None) -> str:
    """The storage URL: ``override`` (``--storage``), else ``[study] storage``, else the default.

    Accepted: any optuna RDB URL (``sqlite:///...``, ``postgresql://...``, ``mysql://...``);
    ``journal:///abs/path.journal`` or ``journal://rel/path.journal`` (optuna's journal file);
    ``"memory"`` (optuna's in-process storage, not durable); a plain file path, which is a
    journal file when it ends in ``.journal`` or ``.log`` and an SQLite file otherwise.
    Relative paths are relative to the working directory for ``override`` and to the study
    file for ``[study] storage`` (as is a relative ``sqlite:///`` URL there).
    """
    if override:
        return resolve_storage(override)
    url = spec.study.storage if spec.study else None
    if not url:
        return default_storage_url(spec)
    if url in ("memory", ":memory:"):
        return url
    base = Path(".") if spec.source.startswith("<") else Path(spec.source).resolve().parent
    if is_journal_url(url):
        return _journal_url(base / url[len(JOURNAL_SCHEME):])
    if "://" not in url:
        return _path_url(base / url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        return "sqlite:///" + str((base / url[len("sqlite:///"):]).resolve())
    return url


class LocalJournalFile(optuna.storages.journal.JournalFileBackend):
    """optuna's journal file (append-only JSON lines, replayed on open), for one machine.

    Differences from ``JournalFileBackend``: appends are serialised with ``flock`` on the
    journal itself, which the kernel releases when a process dies (optuna's symlink lock
    left by a killed process blocks every other writer for its 30 s grace period), and an
    append is flushed to the operating system but not fsynced: a killed process loses
    nothing, and ``sync()`` (called after each batch of told trials) makes the file durable
    against a machine crash. fsync after every operation (11 per trial) cost 2-4 ms each
    on the development machine, more than the sampler and the physics together.
    """

    def __init__(self, file_path: str) -> None:
        super().__init__(file_path)
        self._dirty = False

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        try:
            import fcntl
        except ImportError:     # no flock (Windows): optuna's own lock and fsync
            return super().append_logs(logs)
        data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode()
        with open(self._file_path, "ab") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                f.write(data)
                f.flush()
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        self._dirty = True

    def sync(self) -> None:
        """fsync the journal (durability against power loss / OS crash)."""
        if self._dirty:
            with open(self._file_path, "ab") as f:
                os.fsync(f.fileno())
            self._dirty = False


class JournalRepairedWarning(UserWarning):
    """A journal file ended in a half-written record, which was cut off (and kept aside)."""


def repair_journal(path: str | Path) -> Path | None:
    """Cut a half-written last record off an optuna journal file; returns where it was kept.

    A process killed while appending can leave a last line without its newline (or one that
    is not JSON). Appending after it would glue the next record to it, and from then on
    neither qdtandem nor ``optuna.load_study`` could read the file. The partial record is
    copied to ``<file>.partial-<UTC time>``, the file is truncated to its last complete record
    and a ``JournalRepairedWarning`` is issued. Runs under the same ``flock`` as the appends,
    so a record being written by a live process is never taken for a cut one.

    Parameters
    ----------
    path : str or Path
        The journal file (a missing or empty file is left alone).
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        import fcntl
    except ImportError:         # no flock (Windows): optuna's lock is a separate file
        fcntl = None
    with open(path, "r+b") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - (1 << 20)))
            tail = f.read()
            base = size - len(tail)
            if tail.endswith(b"\n"):
                end = len(tail) - 1
                start = tail.rfind(b"\n", 0, end) + 1
                try:
                    json.loads(tail[start:end])
                    return None          # the last record is whole
                except ValueError:
                    cut = start
            else:
                cut = tail.rfind(b"\n") + 1
            if cut == 0 and base > 0:    # a last record over 1 MiB: not ours to judge
                return None
            import datetime as _dt
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            kept = path.with_name(f"{path.name}.partial-{stamp}")
            kept.write_bytes(tail[cut:])
            f.truncate(base + cut)
            f.flush()
            os.fsync(f.fileno())
        finally:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    warnings.warn(f"{path}: its last record was cut off by a crash ({len(tail) - cut} bytes); "
                  f"removed it, a copy is in {kept.name}", JournalRepairedWarning, stacklevel=3)
    return kept


def sync_storage(storage) -> None:
    """Make what was written to a journal file durable (RDB storages commit themselves)."""
    sync = getattr(journal_backend(storage), "sync", None)
    if callable(sync):
        sync()


def _sqlite_pragmas(dbapi_conn, _record):
    # WAL lets readers (progress bars, other workers) run beside the writer; NORMAL sync keeps
    # each commit durable against process crashes (not power loss) at a fraction of the cost.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _postgres_driver(url: str) -> str:
    """SQLAlchemy 2 reads a bare ``postgresql://`` as psycopg 3 (what the ``postgres`` extra
    installs); use psycopg2 when only it is installed."""
    import importlib.util
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def _is_schema_race(e: Exception) -> bool:
    msg = str(e).lower()
    return "already exists" in msg or "database is locked" in msg


GRPC_SCHEME = "grpc://"
DEFAULT_GRPC_PORT = 13000


def _grpc_address(url: str) -> tuple[str, int]:
    """(host, port) of a ``grpc://host[:port]`` URL (default port 13000, optuna's)."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"storage {url!r}: {e}") from None
    return parts.hostname or "localhost", port or DEFAULT_GRPC_PORT


def open_storage(url: str):
    """An optuna storage for ``url``: ``"memory"`` (in-process, not durable), a
    ``journal://`` file (``LocalJournalFile``), ``grpc://host:port`` (optuna's
    ``GrpcStorageProxy``, see ``serve_grpc_proxy``) or an RDB URL."""
    if url in ("memory", ":memory:"):
        return optuna.storages.InMemoryStorage()
    if "://" not in url:
        raise ValueError(f"storage {url!r} is not a URL (e.g. journal:///path/study.journal, "
                         "sqlite:///study.db, postgresql://user@host/db, grpc://host:13000, "
                         "or 'memory')")
    if url.startswith(GRPC_SCHEME):
        host, port = _grpc_address(url)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.GrpcStorageProxy(host=host, port=port)
        except ImportError as e:
            raise ImportError(f"storage {url}: optuna's gRPC proxy needs grpcio and protobuf "
                              "(pip install -e \".[grpc]\")") from e
    if is_journal_url(url):
        path = Path(url[len(JOURNAL_SCHEME):])
        if not path.name:
            raise ValueError(f"storage {url!r}: no journal file name")
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_journal(path)
        return optuna.storages.JournalStorage(LocalJournalFile(str(path)))
    if url.startswith(("postgresql://", "postgres://")):
        url = _postgres_driver(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 120}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    import sqlalchemy.exc
    for attempt in range(6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                storage = optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs,
                    heartbeat_interval=HEARTBEAT_INTERVAL_S, grace_period=STALE_GRACE_S,
                )
            break
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError,
                sqlalchemy.exc.OperationalError, optuna.exceptions.StorageInternalError) as e:
            # processes starting together on an empty database race to create optuna's
            # schema (SQLite: "table studies already exists"); the loser retries and finds
            # the tables made by the winner. Other operational errors (server unreachable,
            # wrong password) are not races: raise them at once.
            if attempt == 5 or (isinstance(e, sqlalchemy.exc.OperationalError)
                                and not _is_schema_race(e)):
                raise
            time.sleep(0.2 + 0.3 * attempt)
    if url.startswith("sqlite"):
        import sqlalchemy
        sqlalchemy.event.listen(storage.engine, "connect", _sqlite_pragmas)
        storage.engine.dispose()
    return storage



def serve_grpc_proxy(url: str, host: str = "localhost", port: int = DEFAULT_GRPC_PORT) -> None:
    """Serve the storage at ``url`` to workers through optuna's gRPC storage proxy
    (``optuna.storages.run_grpc_proxy_server``) until interrupted.

    One proxy holds the only database connection(s), and any number of workers on other
    machines use ``grpc://<this host>:<port>`` as their storage: the database sees one client
    instead of hundreds, and the proxy answers repeated reads of finished trials from its cache.

    Parameters
    ----------
    url : str
        The storage behind the proxy (normally ``postgresql://...``; any URL of
        ``open_storage`` except another ``grpc://``).
    host : str
        Interface to listen on: ``localhost`` (this machine only) or ``0.0.0.0`` (every
        interface; the proxy has no authentication, so only on a trusted network).
    port : int
        TCP port (1-65535).
    """
    if url.startswith(GRPC_SCHEME) or url in ("memory", ":memory:"):
        raise ValueError(f"storage {safe_url(url)}: a gRPC proxy needs a database or file behind it")
    storage = open_storage(url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.run_grpc_proxy_server(storage, host=host, port=port)
    except ImportError as e:
        raise ImportError("optuna's gRPC proxy needs grpcio and protobuf "
                          "(pip install -e \".[grpc]\")") from e


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for printing and error messages.

    Works on every URL form, also those SQLAlchemy cannot parse: the password is whatever
    follows the first ``:`` of the ``user:password@`` part after ``://``.
    """
    if not isinstance(url, str) or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    at = rest.rfind("@", 0, _authority_end(rest))
    if at < 0:
        return url
    userinfo = rest[:at]
    if ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***{rest[at:]}"


def _authority_end(rest: str) -> int:
    """End of the ``user:password@host:port`` part: the first ``/``, ``?`` or ``#`` after the
    last ``@`` that precedes one of them (a password may itself contain ``/`` or ``@``)."""
    at = rest.rfind("@")
    ends = [i for i in (rest.find(c, at + 1) for c in "/?#") if i >= 0]
    return min(ends) if ends else len(rest)


# --------------------------------------------------------------------------- optuna internals
# optuna offers no public way to reach a study's storage, a journal storage's backend or a
# trial's storage id; every use of those private names is here.

def storage_of(study: optuna.Study):
    """The storage object behind ``study``."""
    return study._storage


def study_id_of(study: optuna.Study) -> int:
    return study._study_id


def trial_id_of(trial) -> int:
    """The storage id of an ``optuna.Trial`` or ``FrozenTrial`` (not its ``number``)."""
    return trial._trial_id


def journal_backend(storage):
    """The log backend of a ``JournalStorage`` (None for other storages)."""
    return getattr(storage, "_backend", None) if isinstance(storage, optuna.storages.JournalStorage) \
        else None


def forget_cached_trials(study: optuna.Study) -> None:
    """Drop the study's per-thread trial cache, as ``Study.ask`` does, so that the sampler
    sees trials created through the storage directly."""
    study._thread_local.cached_all_trials = None


def heartbeat_enabled(storage) -> bool:
    get = getattr(storage, "get_heartbeat_interval", None)
    return callable(get) and get() is not None


def storage_is_local_file(storage) -> bool:
    """An SQLite or journal file (one machine: dead workers are found by process id)."""
    if journal_backend(storage) is not None:
        return True
    return str(getattr(storage, "url", "")).startswith("sqlite")
