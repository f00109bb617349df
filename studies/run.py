"""Run a design study with optuna: ask/tell in batches, one vectorised tandem call per batch.

Storage and resume
    Every trial lives in an optuna storage, one study per ``[study] name``. The default is
    optuna's journal storage in a file beside the study file (``<stem>.optuna.journal``):
    an append-only log of storage operations, replayed on open, shared by several processes
    on one machine (``LocalJournalFile``). Any optuna RDB URL (SQLite, PostgreSQL, MySQL)
    can be given instead. Each finished trial is written (``study.tell``) before the next
    batch is asked, so a Ctrl-C or a killed process loses at most the batch being evaluated;
    those in-flight trials are marked FAIL (``interrupted`` or ``stale`` user attribute) and
    are asked again. ``n_trials`` is the number of finished trials wanted in the study:
    re-running the same command tops the study up and stops when it is reached.

Parallel and distributed runs
    ``workers`` processes on this machine share the journal file (or any RDB storage); any
    number of processes on several machines share one RDB server such as PostgreSQL
    (optuna's own distributed mode: the storage is the only coordination). Each worker seeds
    its sampler with ``seed + worker_index``. Server storages record optuna heartbeats, so
    trials of a worker that died on another machine are failed after the grace period;
    trials of dead workers on this machine are found by process id and failed at once on
    the next start (the journal and SQLite files, local to one machine, need no heartbeat).

Constraints
    Each constraint of the study file is recorded on the trial with ``Trial.set_constraint``
    (violation amount, feasible when <= 0), which the constraint-aware samplers (TPE, NSGA-II)
    and optuna's ``best_trial``/``best_trials`` use; the violation and a ``feasible`` flag are
    also user attributes. CMA-ES, QMC, random and grid samplers ignore constraints while
    sampling; the best design is still chosen among feasible trials only.

Trial user attributes: ``metrics`` (dict: every ``DeviceResult.to_dict()`` metric that is not
NaN, and the derived ``total_thickness_nm``, ``absorber_thickness_nm``, ``abs_mismatch_ma_cm2``;
see ``trial_metrics``), ``violations`` (dict constraint -> violation, when constrained),
``feasible`` and ``worker``; a trial whose design could not be evaluated is FAIL with an
``error`` attribute, an interrupted one FAIL with ``interrupted`` or ``stale``. Study user attributes: ``study_file_text``,
``study_file``, ``description``, ``versions`` (python, qdtandem, optuna, numpy, ...), ``objectives``, ``objective_metrics``, ``directions``, ``parameters``,
``constraints``, ``sampler``, ``seed``, ``device_kind``, ``qdtandem_version``, ``created_utc``,
and after each run ``param_importances`` and ``last_run_utc``.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import socket
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .spec import OBJECTIVES, DeviceSpec, StudySettings

import optuna
from optuna.trial import TrialState

STALE_GRACE_S = 300          # optuna heartbeat grace period for RDB storages
HEARTBEAT_INTERVAL_S = 60
_VIOLATION_NAN = 1e9         # violation recorded when a constrained metric is NaN


# --------------------------------------------------------------------------- storage

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
    """SQLite file beside the study file: ``<stem>.db`` (no server needed).

    A study that was started in optuna's journal file ``<stem>.optuna.journal`` (the faster
    embedded storage, chosen with ``--storage <stem>.optuna.journal``) is continued there
    when that file exists and the SQLite file does not.
    """
    if spec.source.startswith("<"):
        raise ValueError("a study given as text has no file to put the default storage beside; "
                         "pass storage=...")
    src = Path(spec.source).resolve()
    db = src.with_suffix(".db")
    journal = src.with_name(src.stem + DEFAULT_JOURNAL_SUFFIX)
    if not db.exists() and journal.is_file():
        return _journal_url(journal)
    return "sqlite:///" + str(db)


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


def sync_storage(storage) -> None:
    """Make what was written to a journal file durable (RDB storages commit themselves)."""
    sync = getattr(getattr(storage, "_backend", None), "sync", None)
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
    """SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; use psycopg2 when only it
    is installed (the ``postgres`` extra installs psycopg2-binary)."""
    import importlib.util
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def open_storage(url: str):
    """An optuna storage for ``url``: ``"memory"`` (in-process, not durable), a
    ``journal://`` file (``LocalJournalFile``) or an RDB URL."""
    if url in ("memory", ":memory:"):
        return optuna.storages.InMemoryStorage()
    if "://" not in url:
        raise ValueError(f"storage {url!r} is not a URL (e.g. journal:///path/study.journal, "
                         "sqlite:///study.db, postgresql://user@host/db, or 'memory')")
    if is_journal_url(url):
        path = Path(url[len(JOURNAL_SCHEME):])
        if not path.name:
            raise ValueError(f"storage {url!r}: no journal file name")
        path.parent.mkdir(parents=True, exist_ok=True)
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
                optuna.exceptions.StorageInternalError):
            # workers starting together on an empty database race to create optuna's
            # schema; the loser retries and finds the tables made by the winner
            if attempt == 5:
                raise
            time.sleep(0.5 + 0.5 * attempt)
    if url.startswith("sqlite"):
        import sqlalchemy
        sqlalchemy.event.listen(storage.engine, "connect", _sqlite_pragmas)
        storage.engine.dispose()
    return storage


# --------------------------------------------------------------------------- sampler

def distributions(spec: DeviceSpec) -> dict[str, optuna.distributions.FloatDistribution]:
    return {
        name: optuna.distributions.FloatDistribution(b.low, b.high, step=b.step, log=b.log)
        for name, b in spec.parameters.items()
    }


def grid_search_space(spec: DeviceSpec) -> dict[str, list[float]]:
    pts = spec.study.grid_points if spec.study else 5
    return {name: b.grid(pts) for name, b in spec.parameters.items()}


def make_sampler(spec: DeviceSpec, seed: int | None) -> optuna.samplers.BaseSampler:
    """The optuna sampler named in ``[study] sampler`` with ``[study.sampler_options]``."""
    st = spec.study
    opts = dict(st.sampler_options)
    name = st.sampler
    try:
        if name == "tpe":
            kw = dict(multivariate=True, n_startup_trials=10)
            kw.update(opts)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.TPESampler(seed=seed, **kw)
        if name == "cmaes":
            kw = dict(n_startup_trials=0)
            kw.update(opts)
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False, **kw)
        if name == "nsga2":
            kw = dict(population_size=max(8, st.batch_size))
            kw.update(opts)
            return optuna.samplers.NSGAIISampler(seed=seed, **kw)
        if name == "qmc":
            kw = dict(qmc_type="sobol", scramble=True)
            kw.update(opts)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.QMCSampler(seed=seed, **kw)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed, **opts)
        if name == "grid":
            return optuna.samplers.GridSampler(grid_search_space(spec), seed=seed, **opts)
    except TypeError as e:
        raise ValueError(f"{spec.source}: study.sampler_options: {e}") from None
    raise ValueError(f"{spec.source}: study.sampler: unknown sampler {name!r}")


def grid_size(spec: DeviceSpec) -> int:
    return int(np.prod([len(v) for v in grid_search_space(spec).values()]))


# --------------------------------------------------------------------------- evaluation

@dataclass
class Outcome:
    """One evaluated trial: objective values (None when failed), metrics and constraint violations."""

    values: list[float] | None
    metrics: dict[str, float]
    violations: dict[str, float]
    error: str | None = None

    @property
    def feasible(self) -> bool:
        return self.error is None and all(v <= 0 for v in self.violations.values())


def _metrics_from_result(spec: DeviceSpec, params: Mapping[str, float], result) -> dict[str, float]:
    m = {k: float(v) for k, v in result.to_dict().items() if isinstance(v, (int, float, np.floating))}
    m.update(spec.derived_metrics(params))
    mm = m.get("mismatch_ma_cm2", math.nan)
    m["abs_mismatch_ma_cm2"] = abs(mm) if np.isfinite(mm) else math.nan
    return m


def outcome_from_metrics(settings: StudySettings, metrics: dict[str, float]) -> Outcome:
    violations = {}
    for c in settings.constraints:
        v = c.violation(metrics.get(c.metric, math.nan))
        violations[c.name] = v if np.isfinite(v) else _VIOLATION_NAN
    values = [metrics.get(m, math.nan) for m in settings.objective_metrics]
    bad = [m for m, v in zip(settings.objective_metrics, values) if not np.isfinite(v)]
    if bad:
        return Outcome(None, metrics, violations, f"objective {', '.join(bad)} is not finite")
    return Outcome(values, metrics, violations)


def evaluate_params(spec: DeviceSpec, params_list: Sequence[Mapping[str, float]],
                    batched: bool = True) -> list[Outcome]:
    """Evaluate designs for a list of parameter dicts; one ``tandem.evaluate_batch`` call when
    ``batched`` (falling back to one at a time when the batch raises, to pin the bad design)."""
    import tandem

    settings = spec.study
    # the colour rendering index costs ~15 ms per spectrum: only when a study asks for it
    with_cri = settings is None or any(
        c.metric == "cri" for c in settings.constraints) or "cri" in settings.objective_metrics
    designs, errors = [], {}
    for i, p in enumerate(params_list):
        try:
            designs.append(spec.design(p))
        except ValueError as e:
            errors[i] = str(e)
            designs.append(None)
    ok = [i for i, d in enumerate(designs) if d is not None]
    results: dict[int, Any] = {}
    if ok:
        if batched:
            try:
                br = tandem.evaluate_batch([designs[i] for i in ok], with_cri=with_cri)
                results = dict(zip(ok, br.results))
            except ValueError:
                batched = False
        if not batched:
            for i in ok:
                try:
                    results[i] = tandem.evaluate(designs[i], with_cri=with_cri)
                except ValueError as e:
                    errors[i] = str(e)
    out = []
    for i, p in enumerate(params_list):
        if i in errors:
            out.append(Outcome(None, {}, {}, errors[i]))
            continue
        metrics = _metrics_from_result(spec, p, results[i])
        if settings is None:
            out.append(Outcome([metrics.get("pce_pct", math.nan)], metrics, {}))
        else:
            out.append(outcome_from_metrics(settings, metrics))
    return out


# --------------------------------------------------------------------------- study

def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_proc_start_ticks(os.getpid())}"


def _proc_start_ticks(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _worker_alive(worker: str) -> bool:
    """Whether a worker id from this host names a live process (other hosts: assumed alive)."""
    try:
        host, pid_s, ticks = worker.rsplit(":", 2)
        pid = int(pid_s)
    except ValueError:
        return True
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return ticks == "?" or _proc_start_ticks(pid) == ticks


def _study_attrs(spec: DeviceSpec, seed: int | None) -> dict[str, Any]:
    st = spec.study
    from importlib.metadata import version
    try:
        ver = version("qdtandem")
    except Exception:   # not installed (running from a checkout)
        ver = "unknown"
    import platform
    vers = {"python": platform.python_version(), "qdtandem": ver}
    for mod in ("optuna", "numpy", "scipy", "pandas"):
        try:
            vers[mod] = version(mod)
        except Exception:   # not installed as a distribution
            pass
    return {
        "description": st.description,
        "versions": vers,
        "study_file_text": spec.text,
        "study_file": spec.source,
        "objectives": list(st.objectives),
        "objective_metrics": st.objective_metrics,
        "directions": st.directions,
        "parameters": {k: [b.low, b.high, b.step, b.log] for k, b in spec.parameters.items()},
        "constraints": [{"name": c.name, "metric": c.metric, "min": c.min, "max": c.max}
                        for c in st.constraints],
        "sampler": st.sampler,
        "seed": seed,
        "device_kind": spec.kind,
        "qdtandem_version": ver,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def open_study(spec: DeviceSpec, storage, *, seed: int | None = None, worker_index: int = 0,
               create: bool = True) -> optuna.Study:
    """Create or load the study named in ``spec`` on ``storage`` (URL or optuna storage).

    Raises ValueError when a study of that name exists but was made for a different design
    space or other objectives (its trials would not be comparable).
    """
    if spec.study is None:
        raise ValueError(f"{spec.source}: study: missing table: not a study file")
    st = spec.study
    if isinstance(storage, str):
        storage = open_storage(storage)
    wseed = None if seed is None else seed + worker_index
    sampler = make_sampler(spec, wseed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, sampler=sampler, study_name=st.name,
                                directions=st.directions, load_if_exists=True)
    attrs = study.user_attrs
    if "parameters" not in attrs:
        if create:
            for k, v in _study_attrs(spec, seed).items():
                study.set_user_attr(k, v)
    else:
        want = _study_attrs(spec, seed)
        for key in ("parameters", "objectives", "constraints"):
            if json.loads(json.dumps(attrs.get(key))) != json.loads(json.dumps(want[key])):
                raise ValueError(
                    f"{spec.source}: study {st.name!r} already exists in the storage with different "
                    f"{key} ({attrs.get(key)!r} vs {want[key]!r}); give the study a new name or "
                    "use another storage")
    return study


def fail_stale_trials(study: optuna.Study) -> int:
    """Mark RUNNING trials of dead workers FAIL (``stale`` user attribute); returns how many.

    Workers on this machine are checked by process id, others through optuna's heartbeat
    (``grace_period`` of the RDB storage).
    """
    running = lambda: {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    before = running()
    if not before:
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)
    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.user_attrs.get("worker")
        if worker is None:
            # a live worker sets "worker" right after ask; only an old trial without it is stale
            age = (_dt.datetime.now() - t.datetime_start).total_seconds() if t.datetime_start else 1e9
            if age < 60:
                continue
        elif _worker_alive(worker):
            continue
        try:
            storage.set_trial_user_attr(t._trial_id, "stale", True)
            storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            pass   # finished meanwhile
    return len(before - running())


def load_study(storage, name: str) -> optuna.Study:
    """Open the existing study ``name`` (for reading back results, e.g. reports).

    ``storage`` is a URL, a plain path to a journal (``*.journal``, ``*.log``) or SQLite
    file, or an optuna storage. Raises
    ValueError naming the study and the studies that do exist when it is not there.
    """
    if isinstance(storage, str):
        if storage not in ("memory", ":memory:") and "://" not in storage:
            storage = _path_url(Path(storage))
        if storage not in ("memory", ":memory:"):
            f = storage_file(storage)
            if f is not None and not f.is_file():   # opening would create an empty one
                raise ValueError(f"{f}: no such study storage file")
        storage = open_storage(storage)
    names = [s.study_name for s in optuna.study.get_all_study_summaries(storage, include_best_trial=False)]
    if name not in names:
        raise ValueError(f"no study named {name!r} in the storage; studies there: {names or 'none'}")
    return optuna.load_study(study_name=name, storage=storage)


def spec_of_study(study: optuna.Study) -> DeviceSpec:
    """The study file a study was created from (stored as the ``study_file_text`` attribute)."""
    from .spec import loads
    text = study.user_attrs.get("study_file_text")
    if text is None:
        raise ValueError(f"study {study.study_name!r} was not made by qdtandem (no study_file_text)")
    return loads(text, source=study.user_attrs.get("study_file", f"<study {study.study_name}>"),
                 require_study=True)


def counted_trials(study: optuna.Study) -> tuple[int, int]:
    """(finished, running): finished = COMPLETE, or FAIL because the design could not be evaluated."""
    done = running = 0
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and "error" in t.user_attrs):
            done += 1
        elif t.state == TrialState.RUNNING:
            running += 1
    return done, running


def feasible_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get("feasible", True)]


def best_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Single objective: [best feasible trial]; multi-objective: the feasible Pareto front
    sorted by the first objective (PCE), best first. Empty when no feasible trial exists."""
    if len(study.directions) == 1:
        feas = feasible_trials(study)
        if not feas:
            return []
        sign = 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1
        return [max(feas, key=lambda t: (sign * t.values[0], -t.number))]
    front, seen = [], set()
    for t in sorted(study.best_trials, key=lambda t: (-t.values[0], t.number)):
        key = tuple(sorted(t.params.items()))
        if t.user_attrs.get("feasible", True) and key not in seen:   # GA samplers repeat designs
            seen.add(key)
            front.append(t)
    return front


@dataclass
class RunStats:
    """What one worker did: trials told and seconds spent per phase."""

    n_told: int = 0
    n_failed: int = 0
    t_ask_s: float = 0.0       # sampler + storage writes of the asked trials
    t_eval_s: float = 0.0      # spec -> tandem.Design and tandem.evaluate_batch
    t_tell_s: float = 0.0      # attribute writes + tell
    t_wall_s: float = 0.0
    interrupted: bool = False

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def _tell(study: optuna.Study, trial: optuna.Trial, o: Outcome) -> None:
    # All metrics go in one "metrics" attribute: each attribute is one storage transaction,
    # and a flat attribute per metric made the SQLite writes dominate the run time.
    if o.error is not None:
        trial.set_user_attr("error", o.error[:500])
        study.tell(trial, state=TrialState.FAIL)
        return
    trial.set_user_attr("metrics", {k: float(v) for k, v in o.metrics.items() if np.isfinite(v)})
    if o.violations:
        trial.set_user_attr("violations", {k: float(v) for k, v in o.violations.items()})
        for name, v in o.violations.items():
            trial.set_constraint(name, float(v))
    trial.set_user_attr("feasible", bool(o.feasible))
    try:
        study.tell(trial, o.values)
    except RuntimeError as e:
        # GridSampler.after_trial calls study.stop() when the grid is used up, which optuna
        # only allows inside optimize(); the trial itself is stored before that raises.
        if "Study.stop" not in str(e):
            raise


def trial_metrics(trial) -> dict[str, float]:
    """All metrics of a finished trial (``DeviceResult.to_dict()`` keys that were finite, plus
    the derived thickness/mismatch metrics); NaN metrics are absent."""
    return dict(trial.user_attrs.get("metrics", {}))


def _ask(study: optuna.Study, dists: Mapping[str, Any], worker: str | None) -> optuna.Trial:
    """``study.ask(dists)``, but with the ``worker`` user attribute written in the same
    transaction that creates the trial, so that a worker killed at any instant leaves no
    RUNNING trial that cannot be traced to it (see ``fail_stale_trials``)."""
    if worker is None:
        return study.ask(dists)
    template = optuna.trial.FrozenTrial(
        number=-1, state=TrialState.RUNNING, value=None, datetime_start=_dt.datetime.now(),
        datetime_complete=None, params={}, distributions={}, user_attrs={"worker": worker},
        system_attrs={}, intermediate_values={}, trial_id=-1)
    study._thread_local.cached_all_trials = None   # as Study.ask: let the sampler see new trials
    trial = optuna.Trial(study, study._storage.create_new_trial(study._study_id, template))
    for name, d in dists.items():
        trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
    return trial


class _DeferredInterrupt:
    """Turn the first SIGINT into a flag checked between batches, so that Ctrl-C finishes
    (and stores) the batch in flight instead of abandoning it; a second SIGINT interrupts
    at once. Only active in the main thread."""

    def __init__(self):
        self.requested = False
        self._old = None

    def __enter__(self):
        import signal
        import threading
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self):
        if self.requested:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        import signal
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def run_worker(spec: DeviceSpec, storage, *, n_trials: int | None = None,
               timeout_s: float | None = None, seed: int | None = None, worker_index: int = 0,
               batch_size: int | None = None, batched: bool = True,
               on_batch: Callable[[optuna.Study, int], None] | None = None,
               study: optuna.Study | None = None) -> RunStats:
    """Ask/evaluate/tell in batches until the study holds ``n_trials`` finished trials.

    ``on_batch(study, n_finished_by_this_worker)`` is called after every batch (progress bar).
    A KeyboardInterrupt marks the batch in flight FAIL (``interrupted``) and is re-raised.
    """
    st = spec.study
    target = int(n_trials if n_trials is not None else st.n_trials)
    if st.sampler == "grid":
        target = min(target, grid_size(spec))
    timeout_s = timeout_s if timeout_s is not None else st.timeout_s
    bs = int(batch_size or st.batch_size)
    if study is None:
        study = open_study(spec, storage, seed=seed, worker_index=worker_index)
    dists = distributions(spec)
    names = list(dists)
    worker = _worker_id() if not isinstance(study._storage, optuna.storages.InMemoryStorage) else None
    # heartbeats find dead workers on other machines; an SQLite file is local to one machine,
    # where dead workers are found by process id (fail_stale_trials), so save the writes there
    url = getattr(getattr(study._storage, "_backend", study._storage), "url", "")
    heartbeat = (optuna.storages._heartbeat.is_heartbeat_enabled(study._storage)
                 and not str(url).startswith("sqlite"))
    stats = RunStats()
    t_start = time.perf_counter()
    pending: list[optuna.Trial] = []
    interrupt = _DeferredInterrupt()
    try:
        interrupt.__enter__()
        while True:
            interrupt.check()
            if timeout_s is not None and time.perf_counter() - t_start >= timeout_s:
                break
            done, running = counted_trials(study)
            k = min(bs, target - done - running)
            if k <= 0:
                break
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # "heartbeat is supposed to be used with optimize"
                for _ in range(k):
                    trial = _ask(study, dists, worker)
                    pending.append(trial)
                    if heartbeat:
                        study._storage.record_heartbeat(trial._trial_id)
            t1 = time.perf_counter()
            params = [_params_of(t, names) for t in pending]
            outcomes = evaluate_params(spec, params, batched=batched)
            t2 = time.perf_counter()
            while pending:
                trial, o = pending[0], outcomes[len(outcomes) - len(pending)]
                _tell(study, trial, o)
                pending.pop(0)
                stats.n_told += 1
                stats.n_failed += o.error is not None
            sync_storage(study._storage)
            t3 = time.perf_counter()
            stats.t_ask_s += t1 - t0
            stats.t_eval_s += t2 - t1
            stats.t_tell_s += t3 - t2
            if on_batch is not None:
                on_batch(study, stats.n_told)
    except KeyboardInterrupt:
        stats.interrupted = True
        for trial in pending:
            try:
                trial.set_user_attr("interrupted", True)
                study.tell(trial, state=TrialState.FAIL)
            except Exception:   # storage gone while shutting down: the next start fails it as stale
                pass
        raise
    finally:
        interrupt.__exit__()
        try:
            sync_storage(study._storage)
        except OSError:
            pass
        stats.t_wall_s = time.perf_counter() - t_start
    return stats


def _params_of(trial: optuna.Trial, names: Sequence[str]) -> dict[str, float]:
    p = trial.params            # a deep copy per access: once per trial, not once per name
    return {n: p[n] for n in names}


def _worker_process(spec: DeviceSpec, url: str, n_trials, timeout_s, seed, index,
                    batch_size) -> None:
    try:
        run_worker(spec, url, n_trials=n_trials, timeout_s=timeout_s, seed=seed,
                   worker_index=index, batch_size=batch_size)
    except KeyboardInterrupt:
        sys.exit(130)


# --------------------------------------------------------------------------- results

def trials_frame(study: optuna.Study):
    """All trials as a pandas DataFrame: number, state, objective values (by metric name),
    parameters, metrics, feasibility, constraint violations, worker, timing."""
    import pandas as pd

    attrs = study.user_attrs
    metrics = attrs.get("objective_metrics") or [f"value_{i}" for i in range(len(study.directions))]
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"number": t.number, "state": t.state.name}
        for i, m in enumerate(metrics):
            row[f"objective:{m}"] = t.values[i] if t.values is not None else math.nan
        for k, v in t.params.items():
            row[k] = v
        for k, v in t.user_attrs.items():
            if k == "metrics":
                row.update(v)
            elif k == "violations":
                row.update({f"violation:{c}": x for c, x in v.items()})
            else:
                row[k] = v
        row["datetime_start"] = t.datetime_start
        row["datetime_complete"] = t.datetime_complete
        row["duration_s"] = (t.duration.total_seconds() if t.duration is not None else math.nan)
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in ("feasible", "interrupted", "stale"):
        if col in df:
            df[col] = df[col].astype("boolean")
    for col in ("error", "worker"):
        if col in df:
            df[col] = df[col].astype("string")
    return df


def param_importances(study: optuna.Study) -> dict[str, dict[str, float]]:
    """optuna.importance (PED-ANOVA) per objective metric, on the completed trials."""
    metrics = study.user_attrs.get("objective_metrics") or [str(i) for i in range(len(study.directions))]
    out: dict[str, dict[str, float]] = {}
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 4:
        return out
    for i, m in enumerate(metrics):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                imp = optuna.importance.get_param_importances(
                    study, target=(lambda t, i=i: t.values[i]) if len(metrics) > 1 else None)
        except (RuntimeError, ValueError, ZeroDivisionError):
            continue
        out[m] = {k: float(v) for k, v in imp.items()}
    return out


@dataclass
class StudyOutcome:
    study: optuna.Study
    storage_url: str
    best: list          # FrozenTrials (see best_trials)
    importances: dict
    files: dict[str, Path] = field(default_factory=dict)
    stats: RunStats | None = None


def write_outputs(spec: DeviceSpec, study: optuna.Study, out_dir: str | Path,
                  importances: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Path]:
    """Write trials.csv, trials.parquet, best_design.toml (simulate file), importances.csv,
    and for multi-objective studies pareto.csv and pareto/<n>.toml."""
    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    df = trials_frame(study)
    files["trials_csv"] = out / "trials.csv"
    df.to_csv(files["trials_csv"], index=False)
    files["trials_parquet"] = out / "trials.parquet"
    df.to_parquet(files["trials_parquet"], index=False)
    if importances:
        rows = [{"objective": m, "parameter": p, "importance": v}
                for m, d in importances.items() for p, v in d.items()]
        files["importances_csv"] = out / "importances.csv"
        pd.DataFrame(rows).to_csv(files["importances_csv"], index=False)
    best = best_trials(study)
    if best:
        from .simulate_file import write_simulate_file
        t = best[0]
        files["best_design"] = write_simulate_file(
            spec, t.params, out / "best_design.toml",
            header=_design_header(spec, t, "best design" if len(best) == 1 or len(study.directions) == 1
                                  else "highest-PCE design of the Pareto front"))
        if len(study.directions) > 1:
            front = df[df["number"].isin([t.number for t in best])]
            files["pareto_csv"] = out / "pareto.csv"
            front.to_csv(files["pareto_csv"], index=False)
            pdir = out / "pareto"
            pdir.mkdir(exist_ok=True)
            for t in best:
                write_simulate_file(spec, t.params, pdir / f"trial_{t.number:05d}.toml",
                                    header=_design_header(spec, t, "Pareto-optimal design"))
            files["pareto_dir"] = pdir
    return files


def _design_header(spec: DeviceSpec, t, what: str) -> str:
    st = spec.study
    vals = ", ".join(f"{m} = {v:.4g}" for m, v in zip(st.objective_metrics, t.values))
    return (f"{what} of study {st.name!r} (trial {t.number}): {vals}\n"
            f"from {spec.source}\nrun it with: qdtandem simulate <this file>")


def run_study(spec: DeviceSpec, *, n_trials: int | None = None, timeout_s: float | None = None,
              storage: str | None = None, workers: int = 1, seed: int | None = None,
              out_dir: str | Path | None = None, batch_size: int | None = None,
              progress: bool = False) -> StudyOutcome:
    """Run (or resume) the study of ``spec`` and write its outputs to ``out_dir`` (if given).

    ``seed`` defaults to ``[study] seed``; worker i uses ``seed + i``. ``storage`` is an optuna
    storage URL (default: SQLite file beside the study file) or ``"memory"``.
    """
    if spec.study is None:
        raise ValueError(f"{spec.source}: study: missing table: not a study file")
    st = spec.study
    seed = st.seed if seed is None else seed
    url = storage_url(spec, storage)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and url in ("memory", ":memory:"):
        raise ValueError("several workers need a shared storage (SQLite file or a database URL)")
    target = int(n_trials if n_trials is not None else st.n_trials)
    if st.sampler == "grid":
        target = min(target, grid_size(spec))
    study = open_study(spec, open_storage(url), seed=seed)
    fail_stale_trials(study)
    bar = _ProgressBar(study, target) if progress else None
    stats = None
    finished = False
    try:
        if workers == 1:
            stats = run_worker(spec, None, n_trials=target, timeout_s=timeout_s, seed=seed,
                               batch_size=batch_size, study=study,
                               on_batch=(lambda s, n: bar.update(s)) if bar else None)
        else:
            _run_processes(spec, url, target, timeout_s, seed, workers, batch_size, study, bar)
        finished = True
    finally:
        if bar is not None:
            bar.close()
        try:
            study.set_user_attr("last_run_utc",
                                _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        except Exception:   # interrupted mid-transaction: keep the original exception
            if finished:
                raise
    importances = param_importances(study)
    if importances:
        study.set_user_attr("param_importances", importances)
    sync_storage(study._storage)
    files = write_outputs(spec, study, out_dir, importances) if out_dir is not None else {}
    return StudyOutcome(study, url, best_trials(study), importances, files, stats)


def _run_processes(spec, url, target, timeout_s, seed, workers, batch_size, study, bar) -> None:
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker_process,
                         args=(spec, url, target, timeout_s, seed, i, batch_size),
                         name=f"qdtandem-worker-{i}")
             for i in range(workers)]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            for p in procs:
                p.join(timeout=0.5 / workers)
            if bar is not None:
                bar.update(study)
    except KeyboardInterrupt:
        import signal
        # Ctrl-C in a terminal reaches the workers too and they stop after their batch;
        # `kill -INT <this pid>` reaches only us, so pass it on to workers still running.
        deadline = time.monotonic() + 5.0
        for p in procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                try:
                    os.kill(p.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
        for p in procs:
            p.join(timeout=30)
        raise
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
    bad = [p.exitcode for p in procs if p.exitcode not in (0, None)]
    if bad:
        raise RuntimeError(f"{len(bad)} of {workers} workers exited with codes {bad}")


class _ProgressBar:
    """tqdm bar over finished trials with the best feasible value so far.

    Reading all trials and finding the best (a Pareto front for several objectives) grows
    with the study, so the bar is redrawn at most every ``min_interval_s``, and on close."""

    def __init__(self, study: optuna.Study, target: int, min_interval_s: float = 0.3):
        from tqdm import tqdm
        self.target = target
        self.min_interval_s = min_interval_s
        self._last = -math.inf
        self._study = study
        done, _ = counted_trials(study)
        self.bar = tqdm(total=target, initial=min(done, target), unit="trial",
                        desc=study.study_name, dynamic_ncols=True, file=sys.stderr)
        self.metrics = study.user_attrs.get("objective_metrics", ["value"])
        self.update(study, force=True)

    def update(self, study: optuna.Study, force: bool = False) -> None:
        self._study = study
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return
        self._last = now
        done, _ = counted_trials(study)
        self.bar.n = min(done, self.target)
        best = best_trials(study)
        if best:
            if len(study.directions) == 1:
                self.bar.set_postfix_str(f"best {self.metrics[0]} = {best[0].values[0]:.3f}",
                                         refresh=False)
            else:
                self.bar.set_postfix_str(f"Pareto {len(best)} designs, best {self.metrics[0]} = "
                                         f"{best[0].values[0]:.3f}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        try:
            self.update(self._study, force=True)
        except Exception:   # storage gone (interrupted): keep the last drawn state
            pass
        self.bar.close()
