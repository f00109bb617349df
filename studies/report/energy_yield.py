"""The report's energy-yield section: numbers, figures and blocks.

Shown when the simulate or study file has a ``[yield]`` table or the study asks for an
energy-yield metric. The reported design's annual yield is computed now
(``tandem.energy_yield.annual_yield`` with the loss cascade) at the file's site and mounting:
monthly yield and energy-harvesting efficiency, and for a 2T tandem the hourly current
mismatch of the year (the photocurrent of the top minus the bottom subcell). For a study that
recorded both PCE and energy yield on its trials, a table sets the STC-optimal trial (highest
PCE) beside the yield-optimal one (highest kWh/m^2): how far apart they are in band gap,
thickness and energy.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

SECTION = "energy-yield"
TITLE = "Annual energy yield"


def wanted(spec) -> bool:
    return getattr(spec, "yield_spec", None) is not None or bool(getattr(spec, "wants_yield", False))


def yield_data(subject, design) -> dict[str, Any] | None:
    """JSON-able numbers of the section (None when the file does not ask for energy yield)."""
    spec = subject.spec
    if not wanted(spec):
        return None
    from tandem import energy_yield

    cond = spec.yield_conditions()
    r = energy_yield.annual_yield(design, cond, losses=True, keep_hourly=True)
    h = r.hourly
    out: dict[str, Any] = {
        "conditions": dict(cond.info), "metrics": r.to_dict(),
        "monthly": [{k: (int(v) if k == "month" else float(v)) for k, v in row.items()}
                    for row in r.monthly.to_dict("records")],
        "hourly": None, "stc_vs_yield": None,
    }
    if design.kind == "2T":
        out["hourly"] = {
            "month": h["month"].astype(int).tolist(),
            "poa_w_m2": np.round(h["poa_w_m2"].to_numpy(), 1).tolist(),
            "mismatch_ma_cm2": np.round((h["top_jph_ma_cm2"] - h["bottom_jph_ma_cm2"]).to_numpy(), 4).tolist(),
        }
    if subject.study is not None:
        out["stc_vs_yield"] = stc_vs_yield(subject.study)
    return out


def stc_vs_yield(study) -> dict[str, Any] | None:
    """The completed feasible trials with the highest PCE and the highest annual yield."""
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        m = t.user_attrs.get("metrics", {})
        if t.user_attrs.get("feasible", True) and math.isfinite(m.get("pce_pct", math.nan)) \
                and math.isfinite(m.get("energy_yield_kwh_m2", math.nan)):
            rows.append(t)
    if not rows:
        return None
    stc = max(rows, key=lambda t: (t.user_attrs["metrics"]["pce_pct"], -t.number))
    ey = max(rows, key=lambda t: (t.user_attrs["metrics"]["energy_yield_kwh_m2"], -t.number))

    def pick(t):
        m = t.user_attrs["metrics"]
        return {"trial": t.number, "params": {k: float(v) for k, v in t.params.items()},
                "pce_pct": float(m["pce_pct"]), "energy_yield_kwh_m2": float(m["energy_yield_kwh_m2"]),
                "ehe_pct": float(m.get("ehe_pct", math.nan))}

    return {"stc_optimal": pick(stc), "yield_optimal": pick(ey), "n_trials": len(rows)}


# --------------------------------------------------------------------------- figures

def figures(ctx) -> list:
    from .figures import _out
    from .plots import new_figure

    d = ctx.data.get("energy_yield")
    if not d:
        return []
    out = []
    monthly = d["monthly"]
    months = np.array([r["month"] for r in monthly])
    fig = new_figure(7.0, 3.8, right=0.89)
    ax = fig.add_subplot()
    ax.bar(months, [r["energy_yield_kwh_m2"] for r in monthly], color="C0", label="energy yield")
    ax.set_xticks(months)
    ax.set_xticklabels(["J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"][:len(months)])
    ax.set_ylabel("energy yield (kWh/m$^2$ per month)")
    ax2 = ax.twinx()
    ax2.plot(months, [r["ehe_pct"] for r in monthly], "o-", color="C3", label="EHE")
    ax2.set_ylabel("energy-harvesting efficiency (%)", color="C3")
    ax.set_title(f"{d['conditions'].get('site')}: {d['conditions'].get('mounting')}")
    out.append(_out("energy_yield_monthly", "Monthly energy yield",
                    "Electrical energy per month (bars) and the month's energy-harvesting efficiency "
                    "(yield / plane-of-array irradiation, line).", fig))
    hourly = d.get("hourly")
    if hourly:
        mis = np.asarray(hourly["mismatch_ma_cm2"])
        poa = np.asarray(hourly["poa_w_m2"])
        fig = new_figure(7.0, 3.8)
        ax = fig.add_subplot()
        sc = ax.scatter(np.arange(mis.size), mis, c=poa, s=2, cmap="viridis")
        ax.axhline(0.0, color="k", linewidth=0.8)
        ax.set_xlabel("hour with light (chronological)")
        ax.set_ylabel("top - bottom photocurrent (mA/cm$^2$)")
        fig.colorbar(sc, ax=ax, label="plane-of-array irradiance (W/m$^2$)")
        ax.set_title("Hourly current mismatch of the 2T tandem")
        out.append(_out("energy_yield_mismatch", "Hourly current mismatch",
                        "Photocurrent of the top minus the bottom subcell for every hour with light "
                        "(colour: irradiance). Above zero the bottom cell limits the series current.", fig))
    return out


# --------------------------------------------------------------------------- blocks

def blocks(data: Mapping[str, Any], figs) -> list:
    from .figures import metric_label
    from .render import _num

    d = data["energy_yield"]
    m = d["metrics"]
    c = d["conditions"]
    out: list = [("p", f"Site {c.get('site')} ({_num(c.get('latitude'))}, {_num(c.get('longitude'))}), "
                       f"{c.get('mounting')}, {c.get('transposition')} transposition; hourly SPECTRL2 spectra "
                       f"scaled to the TMY light, Faiman cell temperature (tandem.energy_yield)."
                       + (f" Defaults used for: {', '.join(c['defaulted'])}." if c.get("defaulted") else ""))]
    rows = [[k, _num(v, ".4g")] for k, v in m.items() if isinstance(v, float) and math.isfinite(v)]
    out.append(("table", (["metric", "value"], rows)))
    out += [("figure", key) for key in ("energy_yield_monthly", "energy_yield_mismatch") if key in figs]
    sv = d.get("stc_vs_yield")
    if sv:
        a, b = sv["stc_optimal"], sv["yield_optimal"]
        params = list(a["params"])
        head = ["", "trial"] + [metric_label(x).replace("$^2$", "^2") for x in ("pce_pct",)] + \
               ["energy yield (kWh/m^2)", "EHE (%)"] + params
        table = []
        for label, r in (("STC-optimal", a), ("yield-optimal", b)):
            table.append([label, str(r["trial"]), _num(r["pce_pct"]), _num(r["energy_yield_kwh_m2"], ".1f"),
                          _num(r["ehe_pct"])] + [_num(r["params"][p], ".4g") for p in params])
        table.append(["difference", ""] + [_num(b["pce_pct"] - a["pce_pct"]),
                                            _num(b["energy_yield_kwh_m2"] - a["energy_yield_kwh_m2"], ".1f"),
                                            _num(b["ehe_pct"] - a["ehe_pct"])]
                     + [_num(b["params"][p] - a["params"][p], ".3g") for p in params])
        out.append(("p", f"STC-optimal versus yield-optimal design among {sv['n_trials']} feasible trials "
                         "with both metrics:"))
        out.append(("table", (head, table)))
    return out
