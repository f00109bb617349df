"""Compute the drift-diffusion (Sesame) J-V curves the collection PCE tests compare against.

Run from the repository root:  PYTHONPATH=$PWD python tests/data/sesame_collection_jv.py
Writes tests/data/sesame_collection_jv.csv (needs the `dd` extra: pip install -e ".[dd]"); about
10 minutes on one core.

The cell and grid are those of tests/data/sesame_collection_reference.py (CsPbI3 QD n-i-p,
thickness 100-1500 nm x mobility 1e-4-1 cm^2/V s, G(z) from our optics under AM1.5G): for each
grid point the illuminated J-V at 0-1.5 V in 25 mV steps (``kind`` = light), and per mobility the
dark J-V of the 350 nm reference film (``kind`` = dark) to which benchmarks/bench_collection.py
fits the fast model's recombination current. Currents in mA/cm^2, photocurrent positive; NaN
where Sesame's Newton iteration did not converge.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_collection import BANDGAP, generation  # noqa: E402
from sesame_collection_reference import MOBILITY, THICK, transport, write_csv  # noqa: E402

OUT = Path(__file__).resolve().parent / "sesame_collection_jv.csv"
VOLTS = np.round(np.arange(0.0, 1.5001, 0.025), 4)
REFERENCE_NM = 350.0
FIELDS = ("kind", "mobility_cm2_vs", "thickness_nm", "voltage_v", "j_ma_cm2")


def rows():
    from tandem import drift_diffusion as dd

    for mu in MOBILITY:
        zr = np.linspace(0, REFERENCE_NM, 50)
        jd = dd.sesame_jv(REFERENCE_NM, transport(mu), BANDGAP, zr, np.zeros_like(zr), VOLTS)
        for v, j in zip(VOLTS, jd):
            yield {"kind": "dark", "mobility_cm2_vs": mu, "thickness_nm": REFERENCE_NM, "voltage_v": v,
                   "j_ma_cm2": round(float(j), 6)}
        for d in THICK:
            z, g = generation(d)
            jl = dd.sesame_jv(d, transport(mu), BANDGAP, z, g, VOLTS)
            for v, j in zip(VOLTS, jl):
                yield {"kind": "light", "mobility_cm2_vs": mu, "thickness_nm": d, "voltage_v": v,
                       "j_ma_cm2": round(float(j), 6)}
            print(mu, d, flush=True)


def main() -> int:
    return write_csv(OUT, "Sesame (solsesame) J-V curves of a CsPbI3 QD n-i-p cell; made by "
                     "tests/data/sesame_collection_jv.py (see its docstring)", FIELDS, rows)


if __name__ == "__main__":
    sys.exit(main())
