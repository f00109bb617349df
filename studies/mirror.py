"""Workers on a database server: sample in a local in-memory study mirrored to the shared one.

Asking and telling a trial of an optuna study on an RDB server through ``Study.ask``,
``Trial`` and ``Study.tell`` cost 18 transactions (72 SQL statements) per trial of the quick
study on PostgreSQL: create the trial, re-read it twice, one per parameter, the sampler's
attributes, the heartbeat, the sampler re-reading every unfinished trial of every worker
twice per ask, and at the end three user attributes, the constraint and the state, with
three more re-reads. Here it is 7.5 transactions (32 statements; ``bench_studies.py --only
postgres`` counts them).

Each worker keeps a local ``InMemoryStorage`` study in which its sampler runs. The
finished trials of the shared study are copied into it once each (``refresh``, one
incremental read per batch through optuna's cache, which fetches only trials that are new
or were unfinished), so the sampler sees every worker's results. A trial asked locally is
reserved in the shared study in one transaction (``create_new_trial`` with its parameters,
the sampler's attributes and the ``worker`` user attribute as the template) plus optuna's
heartbeat; once evaluated, the attributes the local ``tell`` wrote are copied and the state
set (one transaction each: ``metrics``, ``violations``, ``feasible``, the constraint, the
state with the values). The shared study holds exactly what ``Study.ask``/``tell`` would have written: optuna-dashboard and
``optuna.load_study`` read it as any other.

Only optuna's public storage methods (``BaseStorage``) are called; the private names
(storage, study and trial ids) come from the adapter in ``studies.storage``.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import optuna
from optuna.trial import TrialState

from .storage import storage_of, study_id_of, trial_id_of


def params_key(params: Mapping[str, float], names: Sequence[str]) -> tuple | None:
    """A design as a hashable key (None when a parameter is missing)."""
    try:
        return tuple(float(params[n]) for n in names)
    except KeyError:
        return None


def counts_as_finished(t: optuna.trial.FrozenTrial) -> bool:
    """COMPLETE, or FAIL because the design could not be evaluated (an ``error``)."""
    return t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and "error" in t.user_attrs)


@dataclass
class Reserved:
    """A trial asked locally and reserved in the shared study."""

    local: optuna.Trial
    shared_id: int
    params: dict[str, float]
    system_attrs: dict[str, Any]


class MirroredStudy:
    """The shared study of a server storage, with a local in-memory study for the sampler.

    Parameters
    ----------
    shared : optuna.Study
        The study on the server (RDB storage or optuna's gRPC proxy).
    dists : mapping of str to optuna distribution
        The study's free parameters.
    worker : str or None
        The ``worker`` user attribute of this process's trials (``study._worker_id``).
    heartbeat : bool
        Record optuna's heartbeat of each reserved trial (RDB storages with a heartbeat).
    """

    def __init__(self, shared: optuna.Study, dists: Mapping[str, Any], worker: str | None,
                 heartbeat: bool):
        self.shared = shared
        self.storage = storage_of(shared)
        self.study_id = study_id_of(shared)
        self.dists = dict(dists)
        self.names = list(dists)
        self.worker = worker
        self.heartbeat = heartbeat
        self.local = optuna.create_study(storage=optuna.storages.InMemoryStorage(),
                                         sampler=shared.sampler, directions=shared.directions)
        self._local_storage = storage_of(self.local)
        self._seen: set[int] = set()          # shared trial ids finished and accounted for
        self._mine: set[int] = set()          # shared trial ids reserved by this worker
        self._finished: dict[tuple, int] = {}  # design -> number of a finished trial
        self._running: dict[tuple, list[tuple[int, int]]] = {}  # design -> [(trial id, number)]
        self._numbers: dict[int, int] = {}    # shared trial id -> number (running, mine)
        self._first: int | None = None        # reserved by reserve_empty, filled by ask
        self.waiting: list[optuna.trial.FrozenTrial] = []   # designs to run again
        self.n_done = 0
        self.n_running = 0

    # ------------------------------------------------------------------ reading
    def refresh(self) -> None:
        """Read what changed in the shared study: count finished and running trials, note
        their designs, copy finished trials of other workers into the local study."""
        running: dict[tuple, list[tuple[int, int]]] = {}
        n_running = 0
        self.waiting = []
        for t in self.shared.get_trials(deepcopy=False):
            tid = trial_id_of(t)
            if tid in self._seen:
                continue
            state = t.state
            if state == TrialState.WAITING:
                if params_key(t.params, self.names) is not None:
                    self.waiting.append(t)
                continue
            key = params_key(t.params, self.names)
            if state == TrialState.RUNNING:
                n_running += 1
                self._numbers[tid] = t.number
                if key is not None:
                    running.setdefault(key, []).append((tid, t.number))
                continue
            self._seen.add(tid)
            if counts_as_finished(t):
                self.n_done += 1
                if key is not None:
                    self._finished.setdefault(key, t.number)
            if tid not in self._mine and state == TrialState.COMPLETE:
                self.local.add_trial(t)
        self._running = running
        self.n_running = n_running

    # ------------------------------------------------------------------ asking
    def _template(self, params: Mapping[str, float], system_attrs: Mapping[str, Any],
                  user_attrs: Mapping[str, Any] | None = None) -> optuna.trial.FrozenTrial:
        ua = dict(user_attrs or {})
        if self.worker is not None:
            ua["worker"] = self.worker
        return optuna.trial.FrozenTrial(
            number=-1, state=TrialState.RUNNING, value=None, datetime_start=_dt.datetime.now(),
            datetime_complete=None, params=dict(params),
            distributions={n: self.dists[n] for n in params}, user_attrs=ua,
            system_attrs=dict(system_attrs), intermediate_values={}, trial_id=-1)

    def reserve_empty(self) -> int:
        """Reserve a trial with no parameters yet (the first of a worker, whose number seeds
        its sampler); returns its number. ``ask`` then fills it."""
        tid = self.storage.create_new_trial(self.study_id, self._template({}, {}))
        self._mine.add(tid)
        self._first = tid
        return self.storage.get_trial_number_from_id(tid)

    def ask(self, params: Mapping[str, float] | None = None,
            user_attrs: Mapping[str, Any] | None = None) -> Reserved:
        """Sample a design locally (or take ``params``, e.g. a design to run again) and reserve
        it in the shared study."""
        if params is not None:
            self.local.enqueue_trial(dict(params), skip_if_exists=False)
        lt = self.local.ask(self.dists)
        local_ft = self._local_storage.get_trial(trial_id_of(lt))
        p = {n: local_ft.params[n] for n in self.names}
        sa = dict(local_ft.system_attrs)
        first = self._first
        if first is not None:
            self._first = None
            tid = first
            for n in self.names:
                self.storage.set_trial_param(tid, n, self.dists[n].to_internal_repr(p[n]), self.dists[n])
            for k, v in sa.items():
                self.storage.set_trial_system_attr(tid, k, v)
            for k, v in (user_attrs or {}).items():
                self.storage.set_trial_user_attr(tid, k, v)
        else:
            tid = self.storage.create_new_trial(self.study_id, self._template(p, sa, user_attrs))
            self._mine.add(tid)
        if self.heartbeat:
            self.storage.record_heartbeat(tid)
        return Reserved(lt, tid, p, sa)

    def claim(self, t: optuna.trial.FrozenTrial) -> Reserved | None:
        """Take the WAITING trial ``t`` (a design to run again, see ``fail_stale_trials``);
        None when another worker took it first."""
        tid = trial_id_of(t)
        if not self.storage.set_trial_state_values(tid, state=TrialState.RUNNING):
            return None
        self._mine.add(tid)
        if self.worker is not None:
            self.storage.set_trial_user_attr(tid, "worker", self.worker)
        if self.heartbeat:
            self.storage.record_heartbeat(tid)
        p = {n: t.params[n] for n in self.names}
        self.local.enqueue_trial(p, skip_if_exists=False)
        return Reserved(self.local.ask(self.dists), tid, p, {})

    def start_liveness(self, interval_s: float, pending: Callable[[], Sequence[Reserved]]):
        """Every ``interval_s`` seconds, from a daemon thread, record this worker's sign of
        life on its ``pending()`` trials (``study.record_alive``; until the first, a trial's
        start is its sign of life), with optuna's heartbeat on storages that keep one, so
        that a batch longer than the grace period is not taken for a dead worker. Returns a
        function that stops the thread."""
        import threading

        from .study import record_alive
        stop = threading.Event()

        def beat():
            while not stop.wait(interval_s):
                try:
                    ids = [r.shared_id for r in list(pending())]
                    record_alive(self.shared, ids)
                    if self.heartbeat:
                        for tid in ids:
                            self.storage.record_heartbeat(tid)
                except Exception:   # storage unreachable for a moment: try again next time
                    pass

        threading.Thread(target=beat, name="qdtandem-alive", daemon=True).start()
        return stop.set

    def duplicates(self, pending: Sequence[Reserved]) -> dict[int, int]:
        """Trials of ``pending`` whose design is already in the shared study, finished or
        running in another trial: {index in pending: number of that trial}. Call after
        reserving them (see ``runner._duplicates`` for why that makes the check safe)."""
        self.refresh()
        mine = {r.shared_id for r in pending}
        out: dict[int, int] = {}
        taken: dict[tuple, int] = {}
        for i, r in enumerate(pending):
            key = params_key(r.params, self.names)
            if key in self._finished:
                out[i] = self._finished[key]
                continue
            others = [n for tid, n in self._running.get(key, ()) if tid not in mine]
            if others:
                out[i] = min(others)
            elif key in taken:
                out[i] = taken[key]
            else:
                taken[key] = self._numbers.get(r.shared_id, -1)
        return out

    # ------------------------------------------------------------------ telling
    def fail(self, r: Reserved, key: str, value: Any) -> None:
        """Mark a reserved trial FAIL with the user attribute ``key`` (duplicate, interrupted)."""
        self.storage.set_trial_user_attr(r.shared_id, key, value)
        self.storage.set_trial_state_values(r.shared_id, state=TrialState.FAIL)
        self.local.tell(r.local, state=TrialState.FAIL)

    def copy_told(self, r: Reserved) -> None:
        """Copy what the local ``tell`` wrote on ``r.local`` (user attributes, new system
        attributes such as constraints, state and values) to the shared trial."""
        ft = self._local_storage.get_trial(trial_id_of(r.local))
        for k, v in ft.user_attrs.items():
            self.storage.set_trial_user_attr(r.shared_id, k, v)
        for k, v in ft.system_attrs.items():
            if k not in r.system_attrs or r.system_attrs[k] != v:
                self.storage.set_trial_system_attr(r.shared_id, k, v)
        state = ft.state if ft.state.is_finished() else TrialState.FAIL
        self.storage.set_trial_state_values(
            r.shared_id, state=state, values=ft.values if state == TrialState.COMPLETE else None)
