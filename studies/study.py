"""The optuna study of a study file: sampler, create/load with its attributes, which trials
count, which are best, and failing the RUNNING trials of dead workers.

Study user attributes: ``study_file_text``, ``study_file``, ``description``, ``versions``
(python, qdtandem, optuna, numpy, ...), ``objectives``, ``objective_metrics``, ``directions``,
``parameters``, ``constraints``, ``sampler``, ``seed``, ``device_kind``, ``qdtandem_version``,
``created_utc``, and after each run ``param_importances`` and ``last_run_utc``.

Constraints are recorded on each trial with ``Trial.set_constraint`` (violation amount,
feasible when <= 0), which the constraint-aware samplers (TPE, NSGA-II) and optuna's
``best_trial``/``best_trials`` use. CMA-ES, QMC, random and grid samplers ignore constraints
while sampling; the best design is still chosen among feasible trials only.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from .objective import grid_search_space
from .spec import DeviceSpec
from .storage import _path_url, open_storage, storage_file, storage_of, study_id_of, trial_id_of

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


def open_study(spec: DeviceSpec, storage, *, seed: int | None = None,
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
    # each worker reseeds the sampler from its first trial (runner._WorkerStream)
    sampler = make_sampler(spec, seed)
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


#: trial system attribute: the last sign of life (seconds since the epoch, UTC) of the worker
#: running the trial, renewed while it runs by workers on a server storage (``mirror``)
ALIVE_KEY = "qdtandem:alive"
#: study system attributes ``LEGACY_ALIVE_PREFIX + worker id`` written by earlier versions,
#: one per worker process ever started: still read, no longer written (optuna's storages
#: cannot delete an attribute, so a study-level key per worker only ever accumulated)
LEGACY_ALIVE_PREFIX = "qdtandem:alive:"


def record_alive(study: optuna.Study, trial_ids) -> None:
    """Note on each of the running trials ``trial_ids`` (storage ids) that its worker is alive
    now (``ALIVE_KEY``); works through optuna's gRPC proxy, which has no heartbeat of its own.
    A trial that finished meanwhile is skipped."""
    storage = storage_of(study)
    now = time.time()
    for tid in trial_ids:
        try:
            storage.set_trial_system_attr(tid, ALIVE_KEY, now)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            pass


def _is_this_host(worker: str) -> bool:
    return worker.rsplit(":", 2)[0] == socket.gethostname()


def fail_stale_trials(study: optuna.Study, *, retry: bool = False) -> int:
    """Mark RUNNING trials of dead workers FAIL (``stale`` user attribute); returns how many.

    Workers on this machine are checked by process id. A worker on another machine is dead
    when the last sign of life on its trial (``record_alive``, every ``HEARTBEAT_INTERVAL_S``;
    or, with none, the start of the trial) is older than ``STALE_GRACE_S`` (clocks of the
    machines must agree to well within that), and, on RDB storages, when optuna's heartbeat is.

    Parameters
    ----------
    study : optuna.Study
    retry : bool
        Also enqueue each failed trial's design again (a WAITING trial with the same
        parameters and a ``retry_of`` user attribute, as optuna's ``RetryFailedTrialCallback``
        does), which the next worker on a server storage runs first (``mirror``).
    """
    from . import storage as _storage
    running = lambda: {t.number: t for t in
                       study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    before = running()
    if not before:
        return 0
    storage = storage_of(study)
    grace = _storage.STALE_GRACE_S
    now = time.time()
    legacy: dict[str, Any] | None = None
    failed = []
    for t in before.values():
        worker = t.user_attrs.get("worker")
        age = now - t.datetime_start.timestamp() if t.datetime_start else 1e9
        if worker is None:
            # a live worker sets "worker" right after ask; only an old trial without it is stale
            if age < 60:
                continue
        elif _is_this_host(worker):
            if _worker_alive(worker):
                continue
        else:
            last = t.system_attrs.get(ALIVE_KEY)
            if not isinstance(last, (int, float)):      # a worker of an earlier version
                if legacy is None:
                    legacy = storage.get_study_system_attrs(study_id_of(study))
                last = legacy.get(LEGACY_ALIVE_PREFIX + worker)
            if now - (last if isinstance(last, (int, float)) else now - age) < grace:
                continue
        try:
            storage.set_trial_user_attr(trial_id_of(t), "stale", True)
            if storage.set_trial_state_values(trial_id_of(t), state=TrialState.FAIL):
                failed.append(t)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            pass   # finished meanwhile
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)      # optuna's heartbeat (RDB storages)
    after = running()
    if len(before) - len(after) > len(failed):     # optuna's heartbeat failed some more
        ours = {t.number for t in failed}
        now_trials = {t.number: t for t in study.get_trials(deepcopy=False)}
        for n in before.keys() - after.keys() - ours:
            t = now_trials[n]
            if t.state == TrialState.FAIL and not {"error", "duplicate_of", "interrupted"} & set(t.user_attrs):
                failed.append(t)
    if retry:
        for t in failed:
            if t.params:
                study.add_trial(optuna.trial.create_trial(
                    state=TrialState.WAITING, params=t.params, distributions=t.distributions,
                    user_attrs={"retry_of": t.number}))
    return len(failed)


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

