"""The ask/tell loop: batches of trials evaluated in one vectorised call, worker processes,
Ctrl-C and dead workers, the progress bar.

Each finished trial is written (``study.tell``) before the next batch is asked, so a Ctrl-C
or a killed process loses at most the batch being evaluated; those in-flight trials are
marked FAIL (``interrupted`` or ``stale`` user attribute) and are asked again. ``n_trials``
is the number of finished trials wanted in the study: re-running the same command tops the
study up and stops when it is reached.

``workers`` processes on this machine share the storage file; any number of processes on
several machines share one RDB server such as PostgreSQL (optuna's own distributed mode:
the storage is the only coordination). Server storages record optuna heartbeats, so trials
of a worker that died on another machine are failed after the grace period; trials of dead
workers on this machine are found by process id and failed at once on the next start (the
journal and SQLite files, local to one machine, need no heartbeat). Each trial carries a
``worker`` user attribute (host:pid:start time).
"""
from __future__ import annotations

import datetime as _dt
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import optuna
from optuna.trial import TrialState

from .mirror import MirroredStudy
from .objective import Outcome, distributions, evaluate_params, grid_size
from .outputs import param_importances, write_outputs
from .spec import DeviceSpec
from .storage import (HEARTBEAT_INTERVAL_S, STALE_GRACE_S, forget_cached_trials, heartbeat_enabled, open_storage, storage_is_local_file,
                      storage_of, storage_url, study_id_of, sync_storage, trial_id_of)
from .study import (_worker_id, best_trials, counted_trials, fail_stale_trials, make_sampler,
                    open_study)

#: batches in a row whose every design was already in the study before a worker gives up
_MAX_IDLE_BATCHES = 20


@dataclass
class RunStats:
    """What one worker did: trials told and seconds spent per phase."""

    n_told: int = 0
    n_failed: int = 0
    t_ask_s: float = 0.0       # sampler + storage writes of the asked trials
    t_eval_s: float = 0.0      # spec -> tandem.Design and tandem.evaluate_batch
    t_tell_s: float = 0.0      # attribute writes + tell
    t_wall_s: float = 0.0
    n_duplicates: int = 0      # asked designs already in the study: not evaluated (FAIL, duplicate_of)
    interrupted: bool = False
    exhausted: bool = False    # the sampler proposed only designs already in the study

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


class _WorkerStream:
    """The random stream of one worker: seeded on its first trial from the study seed and the
    number of that trial, which the storage hands out once per study.

    Every process asking trials of a study therefore samples from its own stream, whatever
    seeds were given and on whatever machine it runs (``numpy.random.SeedSequence`` with the
    trial number as spawn key), and a resumed run does not replay the stream of the run
    before it. One worker on a new study with a given seed draws the same trials every time.
    """

    def __init__(self, spec: DeviceSpec, seed: int | None):
        self.spec = spec
        self.seed = seed
        self.first_number: int | None = None

    def start(self, study: optuna.Study, number: int) -> None:
        if self.first_number is not None:
            return
        self.first_number = number
        study.sampler = make_sampler(self.spec, worker_seed(self.seed, number))


def worker_seed(seed: int | None, first_trial_number: int) -> int | None:
    """The sampler seed of the worker whose first trial is ``first_trial_number`` (None: random)."""
    if seed is None:
        return None
    ss = np.random.SeedSequence(int(seed) & 0xFFFFFFFFFFFFFFFF, spawn_key=(int(first_trial_number),))
    return int(ss.generate_state(1, np.uint32)[0])


def _ask(study: optuna.Study, dists: Mapping[str, Any], worker: str | None,
         stream: _WorkerStream) -> optuna.Trial:
    """``study.ask(dists)``, but with the ``worker`` user attribute written in the same
    transaction that creates the trial, so that a worker killed at any instant leaves no
    RUNNING trial that cannot be traced to it (see ``fail_stale_trials``), and with the
    worker's sampler seeded from the number of its first trial (``_WorkerStream``)."""
    template = optuna.trial.FrozenTrial(
        number=-1, state=TrialState.RUNNING, value=None, datetime_start=_dt.datetime.now(),
        datetime_complete=None, params={}, distributions={},
        user_attrs={} if worker is None else {"worker": worker},
        system_attrs={}, intermediate_values={}, trial_id=-1)
    storage = storage_of(study)
    forget_cached_trials(study)   # as Study.ask: let the sampler see new trials
    trial_id = storage.create_new_trial(study_id_of(study), template)
    stream.start(study, storage.get_trial_number_from_id(trial_id))
    trial = optuna.Trial(study, trial_id)
    for name, d in dists.items():
        trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
    return trial


def _ask_given(study: optuna.Study, dists: Mapping[str, Any], worker: str | None,
               params: Mapping[str, float]) -> optuna.Trial:
    """A new trial with ``params`` already set (sampled by the batch helper), created with its
    parameters and ``worker`` attribute in one transaction, as ``_ask``."""
    template = optuna.trial.FrozenTrial(
        number=-1, state=TrialState.RUNNING, value=None, datetime_start=_dt.datetime.now(),
        datetime_complete=None, params=dict(params), distributions=dict(dists),
        user_attrs={} if worker is None else {"worker": worker},
        system_attrs={}, intermediate_values={}, trial_id=-1)
    forget_cached_trials(study)
    return optuna.Trial(study, storage_of(study).create_new_trial(study_id_of(study), template))


def _params_key(params: Mapping[str, float], names: Sequence[str]) -> tuple | None:
    try:
        return tuple(float(params[n]) for n in names)
    except KeyError:
        return None


def _duplicates(study: optuna.Study, pending: Sequence[optuna.Trial],
                names: Sequence[str]) -> dict[int, int]:
    """Trials of ``pending`` whose design is already in the study: {index in pending: number of
    the other trial}.

    Another trial counts when it is finished (COMPLETE, or FAIL with an ``error``) or RUNNING.
    Every worker writes its trials' parameters before it looks, so of two workers that draw
    the same design at the same moment at least one sees the other and gives way: a design
    is never evaluated twice (both may give way; the design can then be drawn again).
    Within one batch the first trial with a design keeps it.
    """
    mine = {trial_id_of(t) for t in pending}
    taken: dict[tuple, int] = {}
    for t in study.get_trials(deepcopy=False):
        if trial_id_of(t) in mine:
            continue
        if t.state == TrialState.COMPLETE or t.state == TrialState.RUNNING or (
                t.state == TrialState.FAIL and "error" in t.user_attrs):
            key = _params_key(t.params, names)
            if key is not None:
                taken.setdefault(key, t.number)
    out: dict[int, int] = {}
    for i, t in enumerate(pending):
        key = _params_key(t.params, names)
        if key in taken:
            out[i] = taken[key]
        else:
            taken[key] = t.number
    return out


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
               timeout_s: float | None = None, seed: int | None = None,
               batch_size: int | None = None, batched: bool = True,
               on_batch: Callable[[optuna.Study, int], None] | None = None,
               study: optuna.Study | None = None, helper: bool | None = False) -> RunStats:
    """Ask/evaluate/tell in batches until the study holds ``n_trials`` finished trials.

    ``on_batch(study, n_finished_by_this_worker)`` is called after every batch (progress bar).
    A KeyboardInterrupt marks the batch in flight FAIL (``interrupted``) and is re-raised.
    ``helper``: sample and evaluate half of every batch in a forked helper process
    (``studies.batch_helper``, where ``batch_helper.wanted``); None is the same as True.
    """
    st = spec.study
    target = int(n_trials if n_trials is not None else st.n_trials)
    if st.sampler == "grid":
        target = min(target, grid_size(spec))
    timeout_s = timeout_s if timeout_s is not None else st.timeout_s
    bs = int(batch_size or st.batch_size)
    if study is None:
        study = open_study(spec, storage, seed=seed)
    dists = distributions(spec)
    names = list(dists)
    storage = storage_of(study)
    worker = _worker_id() if not isinstance(storage, optuna.storages.InMemoryStorage) else None
    # heartbeats find dead workers on other machines; an SQLite file is local to one machine,
    # where dead workers are found by process id (fail_stale_trials), so save the writes there
    heartbeat = heartbeat_enabled(storage) and not storage_is_local_file(storage)
    # a database server or gRPC proxy: sample locally, write each trial in few transactions
    mirror = None if worker is None or storage_is_local_file(storage) else \
        MirroredStudy(study, dists, worker, heartbeat)
    stats = RunStats()
    stop_liveness = mirror.start_liveness(HEARTBEAT_INTERVAL_S, lambda: pending) \
        if mirror is not None else (lambda: None)
    last_stale_check = time.monotonic()
    stream = _WorkerStream(spec, seed)
    from . import batch_helper
    helper = batch_helper.BatchHelper(spec, seed) if (
        helper is not False and mirror is None and batch_helper.wanted(spec, bs)) else None
    idle_batches = 0
    t_start = time.perf_counter()
    pending: list[optuna.Trial] = []
    interrupt = _DeferredInterrupt()
    try:
        interrupt.__enter__()
        while True:
            interrupt.check()
            if timeout_s is not None and time.perf_counter() - t_start >= timeout_s:
                break
            if mirror is not None:
                if time.monotonic() - last_stale_check > STALE_GRACE_S / 2:
                    fail_stale_trials(study, retry=True)   # workers that died since we started
                    last_stale_check = time.monotonic()
                mirror.refresh()
                done, running = mirror.n_done, mirror.n_running
            else:
                done, running = counted_trials(study)
            k = min(bs, target - done - running)
            if k <= 0:
                break
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # "heartbeat is supposed to be used with optimize"
                if mirror is not None:
                    stats.n_duplicates += _ask_mirrored(mirror, k, stream, pending)
                k_help = 0 if helper is None or stream.first_number is None else \
                    helper.request(study, k, stream.first_number)
                for _ in range(k - k_help if mirror is None else 0):
                    trial = _ask(study, dists, worker, stream)
                    pending.append(trial)
                    if heartbeat:
                        storage.record_heartbeat(trial_id_of(trial))
                if k_help:
                    asked = helper.asked()
                    for p in asked:
                        pending.append(_ask_given(study, dists, worker, p))
                    for _ in range(k_help - len(asked)):     # the helper failed: sample them here
                        pending.append(_ask(study, dists, worker, stream))
                    if heartbeat:
                        for trial in pending[-k_help:]:
                            storage.record_heartbeat(trial_id_of(trial))
                dup = _duplicates(study, pending, names) if mirror is None else {}
                for i in sorted(dup, reverse=True):
                    trial = pending.pop(i)
                    trial.set_user_attr("duplicate_of", dup[i])
                    study.tell(trial, state=TrialState.FAIL)
                stats.n_duplicates += len(dup)
            idle_batches = idle_batches + 1 if not pending else 0
            if idle_batches >= _MAX_IDLE_BATCHES:
                stats.exhausted = True
                break
            t1 = time.perf_counter()
            params = [r.params if mirror is not None else _params_of(r, names) for r in pending]
            outcomes = evaluate_params(spec, params, batched=batched) if helper is None else \
                helper.evaluate(spec, params, batched=batched)
            t2 = time.perf_counter()
            while pending:
                trial, o = pending[0], outcomes[len(outcomes) - len(pending)]
                if mirror is not None:
                    _tell(mirror.local, trial.local, o)
                    mirror.copy_told(trial)
                else:
                    _tell(study, trial, o)
                pending.pop(0)
                stats.n_told += 1
                stats.n_failed += o.error is not None
            sync_storage(storage_of(study))
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
                if mirror is not None:
                    mirror.fail(trial, "interrupted", True)
                    continue
                trial.set_user_attr("interrupted", True)
                study.tell(trial, state=TrialState.FAIL)
            except Exception:   # storage gone while shutting down: the next start fails it as stale
                pass
        raise
    finally:
        interrupt.__exit__()
        stop_liveness()
        if helper is not None:
            helper.close()
        try:
            sync_storage(storage_of(study))
        except OSError:
            pass
        stats.t_wall_s = time.perf_counter() - t_start
    return stats


def _ask_mirrored(mirror: MirroredStudy, k: int, stream: _WorkerStream,
                  pending: list) -> int:
    """Ask ``k`` trials through ``mirror`` into ``pending``, giving way on designs already in
    the study (see ``_duplicates``); returns how many gave way."""
    if stream.first_number is None:
        stream.start(mirror.local, mirror.reserve_empty())
        pending.append(mirror.ask())             # fills the reserved trial
    for t in mirror.waiting[:k - len(pending)]:        # designs of dead workers' trials, to run again
        r = mirror.claim(t)
        if r is not None:
            pending.append(r)
    for _ in range(k - len(pending)):
        pending.append(mirror.ask())
    dup = mirror.duplicates(pending)
    for i in sorted(dup, reverse=True):
        mirror.fail(pending.pop(i), "duplicate_of", dup[i])
    return len(dup)


def _params_of(trial: optuna.Trial, names: Sequence[str]) -> dict[str, float]:
    p = trial.params            # a deep copy per access: once per trial, not once per name
    return {n: p[n] for n in names}


def _worker_process(spec: DeviceSpec, storage, n_trials, timeout_s, seed, index,
                    batch_size) -> None:
    _stop_when_parent_dies()
    try:
        run_worker(spec, storage, n_trials=n_trials, timeout_s=timeout_s, seed=seed,
                   batch_size=batch_size)
    except KeyboardInterrupt:
        sys.exit(130)


def _stop_when_parent_dies(poll_s: float = 0.5) -> None:
    """Interrupt this worker process (as a Ctrl-C would: the batch in flight is finished and
    stored) once the process that started it is gone, e.g. killed with SIGKILL; a daemon
    thread watches the parent process id."""
    import signal
    import threading
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(10 * poll_s)                 # a second signal breaks a batch that hangs
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="qdtandem-parent-watch", daemon=True).start()


@dataclass
class StudyOutcome:
    study: optuna.Study
    storage_url: str
    best: list          # FrozenTrials (see best_trials)
    importances: dict
    files: dict[str, Path] = field(default_factory=dict)
    stats: RunStats | None = None
    target: int = 0         # finished trials wanted
    n_before: int = 0       # finished trials in the study when the run started

    @property
    def was_complete(self) -> bool:
        """The study already held ``target`` finished trials: nothing was run."""
        return self.n_before >= self.target


def run_study(spec: DeviceSpec, *, n_trials: int | None = None, timeout_s: float | None = None,
              storage: str | optuna.storages.BaseStorage | None = None, workers: int = 1,
              seed: int | None = None, out_dir: str | Path | None = None,
              batch_size: int | None = None, progress: bool = False,
              helper: bool | None = False) -> StudyOutcome:
    """Run (or resume) the study of ``spec`` and write its outputs to ``out_dir`` (if given).

    Parameters
    ----------
    spec : DeviceSpec
        A loaded study file (with a ``[study]`` table).
    n_trials : int, optional
        Finished trials wanted in the study (default ``[study] n_trials``); a study that
        already holds them runs no trial.
    timeout_s : float, optional
        Stop asking new trials after this many seconds (default ``[study] timeout_s``).
    storage : str or optuna.storages.BaseStorage, optional
        A storage URL (see ``storage_url``; default: the journal file beside the study file),
        ``"memory"``, or an optuna storage object as ``optuna.create_study`` takes. Several
        ``workers`` need a storage the worker processes can open (a URL, or an RDB, journal
        or gRPC proxy storage, which optuna can pickle).
    workers : int
        Worker processes on this machine (>= 1).
    seed : int, optional
        Study seed (default ``[study] seed``). Each worker process samples from its own
        stream, derived from this seed and the number of its first trial (``worker_seed``).
    out_dir : str or Path, optional
        Where ``write_outputs`` puts the CSV, Parquet, best design and Pareto files.
    batch_size : int, optional
        Trials per vectorised evaluation (default ``[study] batch_size``).
    progress : bool
        Draw a progress bar on stderr.
    helper : bool or None
        With one worker, sample and evaluate half of every batch in a forked helper process
        on a second core (TPE and random samplers, Linux, journal file or in-memory storage;
        see ``studies.batch_helper``), as ``qdtandem optimize`` does unless ``--no-helper``.
        Not gated on the machine's load, so that a seeded run draws the same trials on a
        busy and on an idle machine.
    """
    if spec.study is None:
        raise ValueError(f"{spec.source}: study: missing table: not a study file")
    st = spec.study
    seed = st.seed if seed is None else seed
    if storage is None or isinstance(storage, str):
        url = storage_url(spec, storage)
        storage_obj = open_storage(url)
        shared = url
    else:
        storage_obj = storage
        url = str(getattr(storage, "url", type(storage).__name__))
        shared = storage
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and isinstance(storage_obj, optuna.storages.InMemoryStorage):
        raise ValueError("several workers need a shared storage (SQLite file or a database URL)")
    target = int(n_trials if n_trials is not None else st.n_trials)
    if st.sampler == "grid":
        target = min(target, grid_size(spec))
    study = open_study(spec, storage_obj, seed=seed)
    fail_stale_trials(study, retry=not storage_is_local_file(storage_of(study)))
    n_before, _ = counted_trials(study)
    bar = _ProgressBar(study, target) if progress and n_before < target else None
    stats = None
    finished = False
    try:
        if workers == 1:
            stats = run_worker(spec, None, n_trials=target, timeout_s=timeout_s, seed=seed,
                               batch_size=batch_size, study=study, helper=helper,
                               on_batch=(lambda s, n: bar.update(s)) if bar else None)
        else:
            _run_processes(spec, shared, target, timeout_s, seed, workers, batch_size, study, bar)
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
    sync_storage(storage_of(study))
    files = write_outputs(spec, study, out_dir, importances) if out_dir is not None else {}
    return StudyOutcome(study, url, best_trials(study), importances, files, stats, target, n_before)


def _run_processes(spec, storage, target, timeout_s, seed, workers, batch_size, study, bar) -> None:
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker_process,
                         args=(spec, storage, target, timeout_s, seed, i, batch_size),
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
