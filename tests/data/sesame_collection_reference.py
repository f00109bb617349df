"""Compute the drift-diffusion (Sesame) short-circuit currents the collection tests compare against.

Run from the repository root:  PYTHONPATH=$PWD python tests/data/sesame_collection_reference.py
Writes tests/data/sesame_collection_reference.csv (needs the `dd` extra: pip install -e ".[dd]").

The cell is the one of benchmarks/bench_collection.py: glass / ITO 150 / SnO2 30 / CsPbI3 QD d /
Spiro 200 / Ag 100, n-i-p, AM1.5G generation profile G(z) from this package's optics, the
CsPbI3_QD transport preset with both mobilities set to the grid value (lifetimes 50 + 50 ns,
V_bi 1.30 V, S 100 cm/s at the blocking faces). Each row is Sesame's current at V = 0
(``tandem.drift_diffusion.sesame_jv``) and the generated current q int G dz of the same profile.

Cases:
  grid       thickness 100-1500 nm x mobility 1e-4-1 cm^2/V s, the solver's default mesh (240 points);
  mesh       a few slow, thick points again on 600 mesh points (mesh convergence of the reference);
  contacts   band-edge densities of states 2e16 and 2e19 cm^-3 instead of 2e18 (the Schottky contacts'
             equilibrium carrier densities, 3e12-3e15 cm^-3, scale with them);
  intensity  the generation profile scaled by 0.1 (the reported current divided by 0.1);
  uniform    slow, thick points with G(z) replaced by its depth average (same generated current):
             with both carriers generated alike everywhere neither becomes the majority, and the
             fast model's linear recombination is then right (tests/test_collection_reference.py).
"""
from __future__ import annotations

import csv
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_collection import BANDGAP, generation  # noqa: E402  (the benchmark's cell and optics)
from optics.spectra import Q_E  # noqa: E402
from tandem.transport import TRANSPORT  # noqa: E402

OUT = Path(__file__).resolve().parent / "sesame_collection_reference.csv"
THICK = (100.0, 200.0, 350.0, 500.0, 700.0, 1000.0, 1500.0)
MOBILITY = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
FIELDS = ("case", "profile", "mobility_cm2_vs", "thickness_nm", "mesh_points", "nc_nv_cm3", "intensity",
          "jgen_ma_cm2", "jsc_dd_ma_cm2")


def transport(mobility: float):
    return dataclasses.replace(TRANSPORT["CsPbI3_QD"], mobility_e_cm2_vs=mobility, mobility_h_cm2_vs=mobility)


def generated_current(z_nm, g) -> float:
    """q int G dz, mA/cm^2."""
    return float(Q_E * np.trapezoid(g, np.asarray(z_nm) * 1e-7) * 1e3)


def uniform(z_nm, g):
    """G(z) replaced by its depth average."""
    return np.full_like(g, np.trapezoid(g, z_nm) / (z_nm[-1] - z_nm[0]))


def rows():
    from tandem import drift_diffusion as dd

    cases = [("grid", mu, d, 240, 2e18, 1.0) for mu in MOBILITY for d in THICK]
    cases += [("mesh", mu, d, 600, 2e18, 1.0) for mu, d in ((1e-4, 500.0), (1e-3, 700.0), (1e-2, 1500.0))]
    cases += [("contacts", 1e-3, 700.0, 240, nc, 1.0) for nc in (2e16, 2e19)]
    cases += [("intensity", 1e-3, 700.0, 240, 2e18, 0.1), ("intensity", 1e-2, 1000.0, 240, 2e18, 0.1)]
    cases += [("uniform", mu, d, 240, 2e18, 1.0) for mu, d in ((1e-4, 500.0), (1e-3, 700.0), (1e-3, 1500.0),
                                                               (1e-2, 1500.0))]
    gens = {}
    for case, mu, d, pts, nc, inten in cases:
        if d not in gens:
            gens[d] = generation(d)
        z, g = gens[d]
        if case == "uniform":
            g = uniform(z, g)
        j = dd.sesame_jv(d, transport(mu), BANDGAP, z, g * inten, [0.0], nc_cm3=nc, nv_cm3=nc, points=pts)[0]
        yield {"case": case, "profile": "uniform" if case == "uniform" else "optics", "mobility_cm2_vs": mu,
               "thickness_nm": d, "mesh_points": pts, "nc_nv_cm3": nc,
               "intensity": inten, "jgen_ma_cm2": round(generated_current(z, g), 5),
               "jsc_dd_ma_cm2": round(float(j) / inten, 5)}


def write_csv(path: Path, title: str, fields, produce) -> int:
    """Run ``produce()`` (an iterator of row dicts), write the rows to ``path`` under a ``# title``
    comment line, and report the count and time; the exit code of a reference script."""
    t0 = time.perf_counter()
    out = list(produce())
    with open(path, "w", newline="", encoding="utf-8") as f:
        f.write(f"# {title}\n")
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(out)
    print(f"{len(out)} rows in {time.perf_counter() - t0:.0f} s -> {path}")
    return 0


def main() -> int:
    return write_csv(OUT, "Sesame (solsesame) short-circuit currents of a CsPbI3 QD n-i-p cell; made by "
                     "tests/data/sesame_collection_reference.py (see its docstring for the cases)", FIELDS, rows)


if __name__ == "__main__":
    sys.exit(main())
