"""Key findings: short, actionable statements derived from the report's numbers."""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np


def key_findings(data: Mapping[str, Any]) -> list[str]:
    """Short, actionable statements derived from the report's numbers."""
    out = []
    h = data["headline"]
    pc = data["photocurrent_ma_cm2"]
    avail = pc["available"]
    roles = {r["name"]: r["role"] for r in data["layers"]}
    parasitic = sorted(((v, k) for k, v in pc["layers"].items() if "absorber" not in (roles.get(k) or "")),
                       reverse=True)
    total_par = sum(v for v, _ in parasitic)
    if parasitic and parasitic[0][0] > 0:
        worst = ", ".join(f"{k} {v:.2f}" for v, k in parasitic[:3] if v >= 0.005)
        out.append(f"Parasitic absorption takes {total_par:.2f} mA/cm^2 ({100 * total_par / avail:.1f} % of the "
                   f"{pc['spectrum']} photons on {pc['wavelength_range_nm'][0]:g}-{pc['wavelength_range_nm'][1]:g} nm); "
                   f"largest: {worst} mA/cm^2.")
    out.append(f"Reflection loses {pc['reflected']:.2f} mA/cm^2 ({100 * pc['reflected'] / avail:.1f} %)"
               + (f"; {pc['transmitted']:.2f} mA/cm^2 is transmitted." if pc["transmitted"] >= 0.005 else "."))
    if data["kind"] in ("2T", "4T") and h.get("limiting"):
        mm = h["mismatch_ma_cm2"]
        extra = " (it sets the 2T current)" if data["kind"] == "2T" else ""
        out.append(f"The {h['limiting']} subcell has the lower photocurrent{extra}: top - bottom = {mm:+.2f} mA/cm^2.")
    if data["kind"] == "semitransparent" and np.isfinite(h.get("avt_pct", math.nan)):
        out.append(f"AVT {h['avt_pct']:.1f} % at PCE {h['pce_pct']:.2f} %: LUE {h['lue_pct']:.2f} %.")
    sens = [e for e in data.get("sensitivity") or [] if np.isfinite(e.get("max_drop_pct", math.nan))]
    if sens:
        e = max(sens, key=lambda e: e["max_drop_pct"])
        out.append(f"Most sensitive free parameter: {e['parameter']}: PCE drops by up to {e['max_drop_pct']:.2f} % "
                   f"absolute within {scan_range(e)}.")
        single = data.get("study") and not data["study"]["multi_objective"]
        gain = [x for x in sens if single and np.nanmax(x["pce_pct"]) > x["pce_at_optimum_pct"] + 0.01]
        for x in gain:
            ok = [p for p, f in zip(x["pce_pct"], x["feasible"]) if f and np.isfinite(p)]
            if ok and max(ok) > x["pce_at_optimum_pct"] + 0.01:
                out.append(f"Moving {x['parameter']} within the study's bounds raises PCE to {max(ok):.2f} % while "
                           "meeting the study's constraints: the study may not have converged (or the models "
                           "changed since it ran).")
    for b in data.get("at_bounds") or []:
        unit = "nm" if b["parameter"].endswith("thickness_nm") else "eV"
        out.append(f"{b['parameter']} = {b['value']:.4g} {unit} is at the {b['side']} bound of the study "
                   f"({b['bound']:g} {unit}): the optimum may lie beyond it; widen the bound and run the study again.")
    return out


def scan_range(e: Mapping[str, Any]) -> str:
    """The span of one sensitivity scan around the optimum: '-10..+10 %' or '-50..+30 meV'."""
    unit = "%" if e["parameter"].endswith("thickness_nm") else "meV"
    return f"{e['x'][0]:+.0f}..{e['x'][-1]:+.0f} {unit}"
