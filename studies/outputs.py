"""What a study leaves in ``runs/<name>/``: trials.csv, trials.parquet, importances.csv,
best_design.toml (a simulate file) and, for several objectives, pareto.csv and pareto/*.toml.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Mapping

import optuna
from optuna.trial import TrialState

from .spec import DeviceSpec
from .study import best_trials

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



def run_dir(name: str, root: str | Path = "runs") -> Path:
    """``root/name``, the output directory of study ``name``; a name that would lead outside
    ``root`` (``..``, ``/``, a drive) is refused with a ValueError."""
    root = Path(root)
    if (not name or name in (".", "..") or "/" in name or "\\" in name or ":" in name
            or name != name.strip() or "\0" in name):
        raise ValueError(f"study name {name!r} cannot be a directory name under {root}/ "
                         "(no '/', '\\', ':' or '..'); pass --out DIR or rename the study")
    return root / name


def export_study(spec: DeviceSpec, storage=None, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Rebuild the outputs of a study (``write_outputs``) from its storage, at any time: after
    a run whose parent process was killed, while workers on other machines are running, or
    for a study made elsewhere.

    Parameters
    ----------
    spec : DeviceSpec
        The study file (its ``[study] name`` and default storage).
    storage : str or optuna.storages.BaseStorage, optional
        As ``run_study``'s (default: ``[study] storage``, else the file beside the study file).
    out_dir : str or Path, optional
        Default ``runs/<study name>``.
    """
    from .storage import storage_url
    from .study import load_study

    st = storage if storage is not None and not isinstance(storage, str) else storage_url(spec, storage)
    study = load_study(st, spec.study.name)
    importances = study.user_attrs.get("param_importances") or param_importances(study)
    return write_outputs(spec, study, out_dir if out_dir is not None else run_dir(spec.study.name),
                         importances)
