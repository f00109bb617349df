"""Run a design study with optuna: the public entry points of the study modules in one place.

The work is done in
    ``studies.storage``   storage URLs, opening optuna storages, the local journal file;
    ``studies.objective`` parameters -> designs -> metrics -> objective values / violations;
    ``studies.study``     sampler, create/load the optuna study, which trials count and are best;
    ``studies.runner``    the batched ask/tell loop, worker processes, Ctrl-C, progress bar;
    ``studies.batch_helper`` the forked process that samples and evaluates half of a batch;
    ``studies.outputs``   trials.csv / .parquet, best design, Pareto front.

Storage and resume
    Every trial lives in an optuna storage, one study per ``[study] name``. The default is
    optuna's journal file beside the study file (``<stem>.optuna.journal``; a study begun in
    ``<stem>.db`` continues there); any optuna RDB URL (SQLite, PostgreSQL, MySQL), an optuna
    storage object or ``"memory"`` can be given instead. A killed run loses at most the batch
    being evaluated; ``n_trials`` is the number of finished trials wanted in the study, and
    re-running the same command tops the study up.
"""
from __future__ import annotations

from .objective import (Outcome, distributions, evaluate_params, grid_search_space, grid_size,
                        metrics_from_result, outcome_from_metrics, trial_metrics)
from .outputs import param_importances, trials_frame, write_outputs
from .runner import RunStats, StudyOutcome, run_study, run_worker
from .storage import (JournalRepairedWarning, LocalJournalFile, default_storage_url, is_journal_url, open_storage,
                      resolve_storage, safe_url, storage_file, storage_url, sync_storage)
from .study import (best_trials, counted_trials, fail_stale_trials, feasible_trials, load_study,
                    make_sampler, open_study, spec_of_study)

#: former private name, kept for code written against it; use ``metrics_from_result``
_metrics_from_result = metrics_from_result

__all__ = [
    "Outcome", "distributions", "evaluate_params", "grid_search_space", "grid_size",
    "metrics_from_result", "outcome_from_metrics", "trial_metrics", "param_importances",
    "trials_frame", "write_outputs", "RunStats", "StudyOutcome", "run_study", "run_worker",
    "JournalRepairedWarning", "LocalJournalFile", "default_storage_url", "is_journal_url", "open_storage",
    "resolve_storage", "safe_url", "storage_file", "storage_url", "sync_storage", "best_trials",
    "counted_trials", "fail_stale_trials", "feasible_trials", "load_study", "make_sampler",
    "open_study", "spec_of_study",
]
