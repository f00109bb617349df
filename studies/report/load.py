"""Resolve what a report is about: a simulate file, or a study in its storage, and which trial.

Every problem (missing file or study, empty study, a study file that does not belong to the
study) raises ``ReportError``, a ValueError with one line naming the file, storage or study.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import spec as specmod


class ReportError(ValueError):
    """Input that cannot be reported on (missing file or study, no completed trials ...)."""



@dataclass
class Subject:
    """What a report is about: a design (spec + parameter values), optionally from a study."""

    spec: Any                               # studies.spec.DeviceSpec
    params: dict[str, float]
    name: str
    study: Any = None                       # optuna.Study
    trial: Any = None                       # optuna FrozenTrial of the reported design
    storage_url: str | None = None
    warnings: list[str] = field(default_factory=list)


def load_subject(path: str | Path | None, *, storage: str | None = None, study_name: str | None = None,
                 trial: int | None = None) -> Subject:
    """Resolve the report's input; raises ReportError (a ValueError) with a clear message."""
    spec = None
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ReportError(f"{path}: no such simulate or study file")
        spec = specmod.load(p)
        if spec.study is None:
            if storage or study_name or trial is not None:
                raise ReportError(f"{path} is a simulate file (no [study] table); --storage, --study and "
                                  "--trial are for study reports")
            if not spec.is_fixed:
                raise ReportError(f"{path}: free parameters {list(spec.parameters)} but no [study] table; "
                                  "fix every thickness and bandgap, or run it as a study first")
            return Subject(spec, {}, p.stem)
    elif not (storage and study_name):
        raise ReportError("give a simulate or study file, or --storage URL and --study NAME")
    return _load_study_subject(spec, storage, study_name, trial)


def _load_study_subject(spec, storage, study_name, trial_number) -> Subject:
    import optuna
    from optuna.trial import TrialState

    from .. import storage as stg
    from ..study import best_trials

    name = study_name or spec.study.name
    url = stg.resolve_storage(storage) if storage else stg.storage_url(spec)
    shown = stg.safe_url(url)
    db = stg.storage_file(url)           # SQLite or journal file: opening would create it
    if db is not None:
        if not db.is_file():
            hint = f"; run `qdtandem optimize {spec.source}` first" if spec is not None else ""
            raise ReportError(f"no study storage at {db}{hint}")
    try:
        st = stg.open_storage(url)
        names = optuna.study.get_all_study_names(st)
    except ReportError:
        raise
    except Exception as e:   # driver/connection errors of any storage backend
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if url.startswith("postgresql://") and isinstance(e, ImportError):
            # SQLAlchemy 2.1 maps postgresql:// to psycopg 3; psycopg2 needs the explicit driver
            first += " (with psycopg2 installed, write the URL as postgresql+psycopg2://...)"
        raise ReportError(f"cannot open storage {shown}: {first}") from None
    if name not in names:
        raise ReportError(f"no study named {name!r} in {shown}; studies there: "
                          f"{', '.join(sorted(names)) if names else 'none'}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=st)
    if spec is None:
        text = study.user_attrs.get("study_file_text")
        if not text:
            raise ReportError(f"study {name!r} in {shown} has no stored study file; pass the study file")
        spec = specmod.loads(text, source=str(study.user_attrs.get("study_file", name)), require_study=True)
    trials = study.get_trials(deepcopy=False)
    if not trials:
        raise ReportError(f"study {name!r} in {shown} is empty (no trials); run `qdtandem optimize` first")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        states: dict[str, int] = {}
        for t in trials:
            states[t.state.name] = states.get(t.state.name, 0) + 1
        desc = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        raise ReportError(f"study {name!r} in {shown} has no completed trials ({desc}); nothing to report")
    free = set(spec.parameters)
    if set(complete[0].params) != free:
        raise ReportError(f"study {name!r} has parameters {sorted(complete[0].params)} but {spec.source} has "
                          f"{sorted(free)}: the study file does not belong to this study")
    warnings: list[str] = []
    if trial_number is not None:
        match = [t for t in complete if t.number == trial_number]
        if not match:
            raise ReportError(f"study {name!r} has no completed trial {trial_number}")
        chosen = match[0]
    else:
        best = best_trials(study)
        if best:
            chosen = best[0]
        else:
            sign = 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
            chosen = max(complete, key=lambda t: (sign * t.values[0], -t.number))
            warnings.append("No completed trial satisfies the study's constraints: the design shown is the "
                            f"best infeasible one (trial {chosen.number}).")
    if chosen.user_attrs.get("feasible") is False and trial_number is not None:
        warnings.append(f"Trial {chosen.number} violates a constraint of the study: "
                        f"{chosen.user_attrs.get('violations', {})}.")
    return Subject(spec, dict(chosen.params), name, study, chosen, url, warnings)

