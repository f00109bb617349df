"""From free parameters to an optuna outcome: parameters -> designs -> metrics -> objective
values and constraint violations, evaluated in one vectorised ``tandem.evaluate_batch`` call.

Trial user attributes written from an ``Outcome``: ``metrics`` (dict: every
``DeviceResult.to_dict()`` metric that is not NaN, and the derived ``total_thickness_nm``,
``absorber_thickness_nm``, ``abs_mismatch_ma_cm2``; with an energy-yield objective or
constraint also the annual-yield metrics of ``tandem.energy_yield``; see ``trial_metrics``), ``violations``
(dict constraint -> violation, when constrained) and ``feasible``; a design that could not be
evaluated has an ``error``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import optuna

from .spec import DeviceSpec, StudySettings

_VIOLATION_NAN = 1e9         # violation recorded when a constrained metric is NaN

def distributions(spec: DeviceSpec) -> dict[str, optuna.distributions.FloatDistribution]:
    return {
        name: optuna.distributions.FloatDistribution(b.low, b.high, step=b.step, log=b.log)
        for name, b in spec.parameters.items()
    }


def grid_search_space(spec: DeviceSpec) -> dict[str, list[float]]:
    pts = spec.study.grid_points if spec.study else 5
    return {name: b.grid(pts) for name, b in spec.parameters.items()}


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


def metrics_from_result(spec: DeviceSpec, params: Mapping[str, float], result) -> dict[str, float]:
    """Every numeric metric of a ``tandem.DeviceResult`` plus the derived ones of ``spec``
    (thicknesses) and ``abs_mismatch_ma_cm2`` (mA/cm², NaN when the mismatch is)."""
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
    yields = _annual_yields(spec, designs, [i for i in ok if i in results], errors) if spec.wants_yield else {}
    out = []
    for i, p in enumerate(params_list):
        if i in errors:
            out.append(Outcome(None, {}, {}, errors[i]))
            continue
        metrics = metrics_from_result(spec, p, results[i])
        metrics.update(yields.get(i, {}))
        if settings is None:
            out.append(Outcome([metrics.get("pce_pct", math.nan)], metrics, {}))
        else:
            out.append(outcome_from_metrics(settings, metrics))
    return out


def _annual_yields(spec: DeviceSpec, designs, idx: Sequence[int], errors: dict[int, str]) -> dict[int, dict]:
    """Annual-yield metrics (``tandem.vocabulary.YIELD_METRICS``, finite ones) of the designs ``idx``
    under the study's ``[yield]`` conditions, one batched call (one at a time if it raises)."""
    from tandem import energy_yield

    cond = spec.yield_conditions()

    def finite(r):
        return {k: v for k, v in r.to_dict().items() if math.isfinite(v)}

    try:
        res = energy_yield.annual_yield_batch([designs[i] for i in idx], cond)
        return {i: finite(r) for i, r in zip(idx, res)}
    except ValueError:
        out = {}
        for i in idx:
            try:
                out[i] = finite(energy_yield.annual_yield(designs[i], cond, losses=False))
            except ValueError as e:
                errors[i] = str(e)
        return out


def trial_metrics(trial) -> dict[str, float]:
    """All metrics of a finished trial (``DeviceResult.to_dict()`` keys that were finite, plus
    the derived thickness/mismatch metrics); NaN metrics are absent."""
    return dict(trial.user_attrs.get("metrics", {}))

