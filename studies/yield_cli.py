"""``qdtandem yield FILE.toml``: annual energy yield of one design (a simulate file) at a site.

    qdtandem yield runs/quick/best_design.toml                      # Greensboro, tilt = latitude
    qdtandem yield window.toml --site miami --mounting vertical --json
    qdtandem yield cell.toml --weather my_city.epw --tilt 20 --azimuth 170

Site and mounting come from the file's ``[yield]`` table (see ``studies.spec``), overridden by the
options; without either, Greensboro NC at latitude tilt facing south. Sites are the TMY files pvlib ships (``tandem.weather.SITES``); ``--weather`` reads any TMY3
(.csv), TMY2 (.tm2) or EPW (.epw) file. The calculation is ``tandem.energy_yield.annual_yield``
(binned hours; ``--hourly`` solves every hour) with the loss cascade.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math

COMMAND = "yield"
HELP = "annual energy yield of a design (simulate file) at a site or from a TMY3/EPW weather file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from tandem.vocabulary import MOUNTINGS
    from tandem.weather import SITES, TRANSPOSITIONS

    p.add_argument("stack", help="simulate file (TOML; every thickness and bandgap fixed)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--site", default=None, help=f"built-in site: {', '.join(SITES)} (default greensboro)")
    where.add_argument("--weather", default=None, metavar="FILE", help="TMY3 (.csv), TMY2 (.tm2) or EPW (.epw) file")
    p.add_argument("--mounting", choices=MOUNTINGS, default=None,
                   help="fixed tilt (default), vertical (windows) or single-axis tracking")
    p.add_argument("--tilt", type=float, default=None, metavar="DEG",
                   help="tilt from horizontal, 0-90 (default: the site's latitude)")
    p.add_argument("--azimuth", type=float, default=None, metavar="DEG",
                   help="azimuth clockwise from north, 180 = south (default: facing the equator)")
    p.add_argument("--transposition", choices=TRANSPOSITIONS, default=None,
                   help="sky-diffuse transposition model (default perez)")
    p.add_argument("--hourly", action="store_true", help="solve every hour instead of binning (slower)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def run(args) -> int:
    from tandem import energy_yield as ey
    from tandem import weather as wx

    from . import spec as specmod

    spec = specmod.load(args.stack, require_study=False)
    design = spec.design({})
    # the file's [yield] table, then the command line
    ys = spec.yield_spec or specmod.YieldSpec()
    changes = {}
    if args.site is not None or args.weather is not None:
        changes.update(site=args.site, weather_file=args.weather)
    if args.mounting is not None and args.mounting != ys.mounting:
        changes.update(mounting=args.mounting, tilt_deg=None)
    for key, val in (("tilt_deg", args.tilt), ("azimuth_deg", args.azimuth), ("transposition", args.transposition)):
        if val is not None:
            changes[key] = val
    ys = dataclasses.replace(ys, **changes)
    mounting = wx.Mounting(ys.mounting, tilt_deg=ys.tilt_deg, azimuth_deg=ys.azimuth_deg)
    cond = ey.yield_conditions(site=ys.site if ys.weather_file is None else None, weather_file=ys.weather_file,
                               mounting=mounting, transposition=ys.transposition)
    res = ey.annual_yield(design, cond, losses=True, method="hourly" if args.hourly else "binned")
    metrics = res.to_dict()
    monthly = res.monthly
    if args.json:
        doc = {
            "file": spec.source, "kind": spec.kind, "conditions": cond.info, "method": res.method,
            "metrics": {k: _clean(v) for k, v in metrics.items()},
            "monthly": [{k: _clean(float(v)) if k != "month" else int(v) for k, v in row.items()}
                        for row in monthly.to_dict("records")],
        }
        print(json.dumps(doc, indent=2))
        return 0
    info = cond.info
    print(f"{spec.source}: {spec.kind} device, annual energy yield")
    print(f"  site {info.get('site')} ({info.get('latitude'):.2f}, {info.get('longitude'):.2f}), "
          f"{info.get('mounting')}, {info.get('transposition')} transposition")
    if info.get("defaulted"):
        print(f"  defaults used for: {', '.join(info['defaulted'])}")
    for k, v in metrics.items():
        if isinstance(v, float) and math.isnan(v):
            continue
        print(f"  {k:24s} {v:.4g}")
    print("  month  incident_kwh_m2  energy_yield_kwh_m2  ehe_pct")
    for row in monthly.itertuples(index=False):
        print(f"  {row.month:5d}  {row.incident_kwh_m2:15.1f}  {row.energy_yield_kwh_m2:19.2f}  {row.ehe_pct:7.2f}")
    return 0
