"""Study-level report data: history, importances, Pareto front, top 10, and the sensitivity
scan around the reported design (one ``tandem.evaluate_batch`` call)."""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..storage import safe_url
from .load import Subject

SENSITIVITY_POINTS = 9


def study_data(subject: Subject) -> dict[str, Any]:
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    from ..outputs import param_importances
    from ..study import best_trials

    study, spec = subject.study, subject.spec
    metrics = study.user_attrs.get("objective_metrics") or spec.study.objective_metrics
    maximise = [d == StudyDirection.MAXIMIZE for d in study.directions]
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    history = {
        "number": [t.number for t in complete],
        "value": [float(t.values[0]) for t in complete],
        "feasible": [bool(t.user_attrs.get("feasible", True)) for t in complete],
    }
    imps = study.user_attrs.get("param_importances") or param_importances(study)
    best = best_trials(study)
    front_numbers = [t.number for t in best]
    feasible = [t for t in complete if t.user_attrs.get("feasible", True)]
    sign = 1 if maximise[0] else -1
    ranked = sorted(feasible, key=lambda t: (-sign * t.values[0], t.number))[:10]
    top10 = []
    for t in ranked:
        m = t.user_attrs.get("metrics", {})
        top10.append({
            "trial": t.number,
            "objectives": {k: float(v) for k, v in zip(metrics, t.values)},
            "params": {k: float(v) for k, v in t.params.items()},
            "metrics": {k: float(m[k]) for k in ("pce_pct", "top_jsc_ma_cm2", "bottom_jsc_ma_cm2",
                                                  "mismatch_ma_cm2", "avt_pct") if k in m},
            "pareto": t.number in front_numbers,
        })
    out: dict[str, Any] = {
        "name": study.study_name,
        "storage": safe_url(subject.storage_url),
        "objectives": list(metrics),
        "directions": ["maximize" if m else "minimize" for m in maximise],
        "sampler": study.user_attrs.get("sampler", spec.study.sampler),
        "seed": study.user_attrs.get("seed", spec.study.seed),
        "constraints": [c.name for c in spec.study.constraints],
        "n_trials": len(trials), "states": states, "n_feasible": len(feasible),
        "created_utc": study.user_attrs.get("created_utc"),
        "last_run_utc": study.user_attrs.get("last_run_utc"),
        "history": history, "importances": imps, "top10": top10,
        "chosen_trial": subject.trial.number, "multi_objective": len(metrics) > 1,
    }
    if len(metrics) > 1:
        out["pareto"] = {
            "metrics": list(metrics[:2]),
            "all": [[float(t.values[0]), float(t.values[1])] for t in feasible],
            "infeasible": [[float(t.values[0]), float(t.values[1])] for t in complete
                           if not t.user_attrs.get("feasible", True)],
            "front": [[float(t.values[0]), float(t.values[1])] for t in best],
            "front_trials": front_numbers,
        }
    return out


def sensitivity(spec, params: Mapping[str, float], tolerance_pct: float = 10.0,
                bandgap_tolerance_ev: float = 0.05, points: int = SENSITIVITY_POINTS) -> list[dict[str, Any]]:
    """PCE (%) with one free parameter moved around ``params``, the others held.

    Parameters
    ----------
    spec : studies.spec.DeviceSpec
    params : mapping of str to float
        The reported design's free parameters (``<layer>.thickness_nm`` in nm,
        ``<layer>.bandgap_ev`` in eV).
    tolerance_pct : float, default 10
        Thickness scan half-width, % of the value.
    bandgap_tolerance_ev : float, default 0.05
        Bandgap scan half-width, eV.
    points : int, default 9
        Points per scan before the bounds are applied (odd, so the optimum is one of them).

    Returns
    -------
    list of dict
        One per free parameter: ``values``, ``x`` (% or meV from the optimum), ``bounds``,
        ``pce_pct``, ``avt_pct``, ``feasible`` per point, and ``pce_low_pct``,
        ``pce_high_pct``, ``pce_at_optimum_pct``, ``max_drop_pct`` (% absolute).

    Notes
    -----
    Thicknesses: value x (1 + r), r in [-tolerance, +tolerance]; bandgaps: value + dE,
    dE in [-bandgap_tolerance, +bandgap_tolerance] eV, kept inside the material's tunable
    range. Every point stays inside the study's bounds of that parameter (points that would
    leave them are dropped, so a design at a bound is scanned on one side only). Points whose
    design is invalid (e.g. outside an electrical preset's range) are NaN. All designs are
    evaluated in one ``tandem.evaluate_batch`` call.
    """
    import nkdata
    import tandem

    if not params:
        return []
    offsets = np.linspace(-1.0, 1.0, points)
    entries, designs, where = [], [], []
    free = spec.parameters
    for name, value in params.items():
        layer, what = name.split(".", 1)
        lo, hi = (free[name].low, free[name].high) if name in free else (-math.inf, math.inf)
        if what == "thickness_nm":
            values = value * (1.0 + offsets * tolerance_pct / 100.0)
            x_label = "thickness change (%)"
        else:
            lay = next(l for l in spec.layers if l.name == layer)
            g_lo, g_hi = nkdata.TUNABLE.get(lay.material, (-math.inf, math.inf))
            lo, hi = max(lo, g_lo), min(hi, g_hi)
            values = value + offsets * bandgap_tolerance_ev
            x_label = "bandgap change (meV)"
        # the optimum itself is always kept (an optimiser may return a value a hair outside)
        values = np.unique(np.append(values[(values >= lo) & (values <= hi)], value))
        x = 100.0 * (values / value - 1.0) if what == "thickness_nm" else 1000.0 * (values - value)
        e = {"parameter": name, "optimum": float(value), "values": [float(v) for v in values],
             "bounds": [float(lo), float(hi)],
             "x": [float(v) for v in x], "x_label": x_label, "pce_pct": [math.nan] * len(values),
             "feasible": [False] * len(values), "avt_pct": [math.nan] * len(values)}
        for j, v in enumerate(values):
            p = dict(params)
            p[name] = float(v)
            try:
                designs.append(spec.design(p))
                where.append((len(entries), j, p))
            except ValueError:
                pass
        entries.append(e)
    if designs:
        try:
            res = tandem.evaluate_batch(designs, with_cri=False).results
        except ValueError:   # pin the bad design: evaluate one at a time
            res = []
            for d in designs:
                try:
                    res.append(tandem.evaluate(d, with_cri=False))
                except ValueError:
                    res.append(None)
        from ..objective import metrics_from_result, outcome_from_metrics
        for (k, j, p), r in zip(where, res):
            if r is not None:
                entries[k]["pce_pct"][j] = float(r.pce_pct)
                entries[k]["avt_pct"][j] = float(r.avt_pct)
                if spec.study is not None:
                    o = outcome_from_metrics(spec.study, metrics_from_result(spec, p, r))
                    entries[k]["feasible"][j] = bool(o.feasible)
                else:
                    entries[k]["feasible"][j] = True
    for e in entries:
        y = np.array(e["pce_pct"])
        x = np.array(e["x"])
        e["pce_low_pct"] = float(y[0])
        e["pce_high_pct"] = float(y[-1])
        e["pce_at_optimum_pct"] = float(np.interp(0.0, x, y)) if np.all(np.isfinite(y)) else math.nan
        e["max_drop_pct"] = float(np.nanmax(e["pce_at_optimum_pct"] - y)) if np.any(np.isfinite(y)) else math.nan
    return entries




def parameters_at_bounds(spec, params: Mapping[str, float], rel_tol: float = 0.01) -> list[dict[str, Any]]:
    """The free parameters whose value lies within ``rel_tol`` of their bound span from a bound.

    An optimum there may lie beyond the bound: the study should be run again with it widened.
    Returns [{"parameter", "value", "side" ("lower" | "upper"), "bound"}], in parameter order.
    """
    out = []
    for name, b in spec.parameters.items():
        if name not in params or not b.high > b.low:
            continue
        v, tol = float(params[name]), rel_tol * (b.high - b.low)
        for side, bound in (("lower", b.low), ("upper", b.high)):
            if abs(v - bound) <= tol:
                out.append({"parameter": name, "value": v, "side": side, "bound": float(bound)})
                break
    return out
