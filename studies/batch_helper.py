"""A helper process that samples and evaluates half of every batch of a single worker.

On a machine with two or more cores a lone worker leaves the second core idle while its
sampler (multivariate TPE: a few ms per trial, growing with the study) and the physics of a
batch run one after the other. The helper, forked once at the start of the run, keeps an
in-memory replica of the study's finished trials and its own sampler; for each batch the
worker asks half of the trials and the helper the other half, from the same finished trials,
at the same time; then each evaluates half of the designs.

What the search sees is what a lone worker sees: every trial of a batch is sampled from the
COMPLETE trials before the batch (in trial-number order, so the Parzen estimators are the
same), only from two random streams instead of one. The helper's stream is seeded from the
study seed and the number of the worker's first trial (``helper_seed``), so a seeded run is
reproducible, and distinct from every worker's stream.

Only the worker touches the storage: it creates the helper's trials (with their parameters,
in one transaction each, before any evaluation, so the duplicate check and the kill safety
of the loop hold for them too) and tells all results. The helper ignores SIGINT (the worker
finishes the batch in flight, see ``runner._DeferredInterrupt``) and exits when the worker's
end of the pipe closes, i.e. when the worker ends or dies. If the helper fails, the worker
samples and evaluates its share itself.

Used for samplers whose next draw depends only on the finished trials (TPE, random).
"""
from __future__ import annotations

import os
import sys
from typing import Any, Mapping, Sequence

import numpy as np
import optuna
from optuna.trial import TrialState

from .objective import Outcome, distributions, evaluate_params
from .spec import DeviceSpec
from .study import make_sampler

#: samplers whose draws depend only on the finished trials (no generation or grid state)
STATELESS_SAMPLERS = ("tpe", "random")
#: smallest batch worth splitting
MIN_BATCH = 4


def helper_seed(seed: int | None, first_trial_number: int) -> int | None:
    """Sampler seed of the helper of the worker whose first trial is ``first_trial_number``."""
    if seed is None:
        return None
    ss = np.random.SeedSequence(int(seed) & 0xFFFFFFFFFFFFFFFF,
                                spawn_key=(int(first_trial_number), 1))
    return int(ss.generate_state(1, np.uint32)[0])


def wanted(spec: DeviceSpec, batch_size: int) -> bool:
    """Whether a lone worker of ``spec`` can use a helper (Linux fork, >= 2 cores)."""
    return (spec.study.sampler in STATELESS_SAMPLERS and batch_size >= MIN_BATCH
            and sys.platform.startswith("linux") and len(os.sched_getaffinity(0)) >= 2)


class BatchHelper:
    """The worker's end of the helper process (see the module docstring)."""

    def __init__(self, spec: DeviceSpec, seed: int | None):
        self.spec = spec
        self.seed = seed
        self.alive = True
        self._proc = None
        self._mirrored: set[int] = set()
        self._asked = 0

    def _start(self) -> None:
        # forked at the first request, after the worker's first batch: the helper inherits
        # the imports and caches (materials on the grid, kernel rows) that batch warmed up
        import multiprocessing as mp
        ctx = mp.get_context("fork")      # no re-import: the helper starts in milliseconds
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_helper_main, args=(child, self._conn, self.spec),
                                 daemon=True, name="qdtandem-batch-helper")
        self._proc.start()
        child.close()

    # -- sampling
    def request(self, study: optuna.Study, k: int, first_trial_number: int) -> int:
        """Send the finished trials the replica lacks and ask the helper for ``k // 2`` of the
        ``k`` trials of the next batch; returns how many it will sample."""
        n = k // 2
        if not self.alive or n == 0:
            return 0
        if self._proc is None:
            self._start()
        new = []
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if t.number not in self._mirrored:
                self._mirrored.add(t.number)
                new.append((dict(t.params), list(t.values), dict(t.constraints)))
        seed = helper_seed(self.seed, first_trial_number)
        if not self._send(("ask", new, n, seed)):
            return 0
        self._asked = n
        return n

    def asked(self) -> list[dict[str, float]]:
        """The parameter sets sampled by the helper ([] if it failed)."""
        n, self._asked = self._asked, 0
        out = self._recv()
        return out if isinstance(out, list) and len(out) == n else []

    # -- evaluation
    def evaluate(self, spec: DeviceSpec, params: Sequence[Mapping[str, float]],
                 batched: bool = True) -> list[Outcome]:
        """``evaluate_params`` of ``params``, the second half in the helper."""
        h = len(params) - len(params) // 2
        theirs = list(params[h:])
        sent = bool(theirs) and self.alive and self._proc is not None and \
            self._send(("eval", theirs, batched))
        mine = evaluate_params(spec, params[:h] if sent else params, batched=batched)
        if not sent:
            return mine
        out = self._recv()
        if not (isinstance(out, list) and len(out) == len(theirs)):
            out = evaluate_params(spec, theirs, batched=batched)
        return mine + out

    def close(self) -> None:
        self.alive = False
        if self._proc is None:
            return
        try:
            self._conn.close()
        except OSError:
            pass
        self._proc.join(timeout=2)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(timeout=2)

    def _send(self, msg) -> bool:
        try:
            self._conn.send(msg)
            return True
        except (OSError, ValueError):
            self.alive = False
            return False

    def _recv(self) -> Any:
        try:
            out = self._conn.recv()
        except (OSError, EOFError, ValueError):
            self.alive = False
            return None
        if isinstance(out, BaseException):
            self.alive = False
            return None
        return out


def _helper_main(conn, worker_end, spec: DeviceSpec) -> None:
    import signal
    import warnings
    worker_end.close()          # else the worker's death would not close the pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the worker decides when the run stops
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    dists = distributions(spec)
    names = list(dists)
    replica = None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return                                  # the worker ended or died
        try:
            if msg[0] == "ask":
                _, new, n, seed = msg
                if replica is None:
                    replica = optuna.create_study(directions=spec.study.directions,
                                                  sampler=make_sampler(spec, seed))
                for params, values, constraints in new:
                    ft = optuna.trial.create_trial(params=params, distributions=dists, values=values)
                    for key, v in constraints.items():
                        ft.set_constraint(key, v)
                    replica.add_trial(ft)
                out = []
                for _ in range(n):
                    t = replica.ask(dists)
                    p = t.params
                    out.append({k: p[k] for k in names})
                    replica.tell(t, state=TrialState.FAIL)   # the worker tells the real one
            else:
                _, params, batched = msg
                out = evaluate_params(spec, params, batched=batched)
        except Exception as e:   # the worker does this share itself
            out = RuntimeError(f"batch helper: {type(e).__name__}: {e}")
        try:
            conn.send(out)
        except (OSError, ValueError):
            return
