"""Why the fast collection model falls short of drift-diffusion in slow, thick films: three models, one G(z).

For the cell of benchmarks/bench_collection.py (CsPbI3 QD n-i-p, G(z) from our optics, CsPbI3_QD
transport with both mobilities set) this prints the short-circuit current of

* ``fast``: tandem.collection (uniform field, each carrier recombining linearly at n / (tau_e + tau_h));
* ``pair``: the same uniform field and boundary conditions, but Shockley-Read-Hall pair recombination
  R = n p / (tau_h n + tau_e p) (nonlinear), solved with scipy's collocation BVP solver; no Poisson
  equation, so no space charge;
* ``Sesame``: the cached Poisson drift-diffusion reference (tests/data/sesame_collection_reference.csv).

``pair`` moving from ``fast`` towards (and past) ``Sesame`` shows the nonlinear recombination as the
cause; what remains is the field the separated carriers' space charge bends, which only Poisson gives.
The batched solver of ``tandem.dd_batch`` separates the two on the same mesh and contacts: ``dd
uniform`` (its carriers' charge left out of Poisson's equation: the closed form's uniform field with
pair recombination) and ``dd`` (full Poisson; what evaluate_batch uses for these films), and the
range of its field in the bulk (10-90 % of the depth) against the uniform (V_bi - V) / d.

Run:  PYTHONPATH=$PWD python benchmarks/collection_mechanism.py   (about a minute)
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from scipy.integrate import solve_bvp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data"))

import sesame_collection_reference as ref  # noqa: E402
from bench_collection import BANDGAP, VT, closed_form_jph as fast_jph, generation  # noqa: E402
from optics.spectra import Q_E  # noqa: E402
from tandem import dd_batch  # noqa: E402

POINTS = ((1e-1, 1500.0), (1e-2, 1000.0), (1e-2, 1500.0), (1e-3, 700.0), (1e-3, 1500.0), (1e-4, 500.0))


def pair_srh_jsc(transport, d_nm, z_nm, g, s_extract=1e7) -> float:
    """Jsc (mA/cm^2) of the uniform-field drift-diffusion problem with pair SRH recombination (n-i-p).

    Dimensionless: depth in d, densities in G0 tau_e, particle fluxes in G0 d (G0 the depth-averaged
    generation); electrons drift to the front (electron contact), holes to the back.
    """
    t = transport
    d = d_nm * 1e-7
    field = t.vbi_v / d
    tau = t.lifetime_e_ns * 1e-9
    rt = t.lifetime_h_ns / t.lifetime_e_ns
    g0 = np.trapezoid(g, z_nm * 1e-7) / d
    xs, gs = np.asarray(z_nm) / d_nm, g / g0
    an, ap = t.mobility_e_cm2_vs * field * tau / d, t.mobility_h_cm2_vs * field * tau / d
    bn, bp = t.mobility_e_cm2_vs * VT * tau / d**2, t.mobility_h_cm2_vs * VT * tau / d**2

    def rhs(x, y):
        n, p, fn, fp = y
        nn, pp = np.maximum(n, 0.0), np.maximum(p, 0.0)
        r = nn * pp / np.maximum(rt * nn + pp, 1e-300)
        gx = np.interp(x, xs, gs)
        return np.vstack([-(fn + an * n) / bn, (ap * p - fp) / bp, gx - r, gx - r])

    kx, kf, kb = (s * tau / d for s in (s_extract, t.s_front_cm_s, t.s_back_cm_s))

    def bc(y0, y1):
        return np.array([y0[2] + kx * y0[0], y0[3] + kf * y0[1], y1[3] - kx * y1[1], y1[2] - kb * y1[0]])

    x = np.linspace(0.0, 1.0, 4001)
    y = np.zeros((4, x.size))
    y[:2] = 0.1
    sol = solve_bvp(rhs, bc, x, y, tol=1e-5, max_nodes=400000)
    if sol.status != 0:
        return float("nan")
    return float((sol.y[3, 0] - sol.y[2, 0]) * g0 * d * Q_E * 1e3)


def main() -> int:
    with open(ref.OUT, encoding="utf-8") as f:
        cached = {(float(r["mobility_cm2_vs"]), float(r["thickness_nm"])): float(r["jsc_dd_ma_cm2"])
                  for r in csv.DictReader(line for line in f if not line.startswith("#")) if r["case"] == "grid"}
    print("mu (cm2/Vs)  d (nm) | Jsc fast   pair   dd uniform   dd   Sesame (mA/cm2) | ratios to Sesame: fast  pair"
          "  dd uniform  dd | bulk field vs uniform")
    s = dd_batch.mesh()
    for mu, d in POINTS:
        z, g = generation(d)
        t = ref.transport(mu)
        j_fast = float(fast_jph(t, d, z, g, [0.0])[0])
        j_pair = pair_srh_jsc(t, d, z, g)
        gb = dd_batch.box_generation(s, z, g, d)[None]
        j_dd, _, sol = dd_batch.solve([d], [t], [BANDGAP], gb, [0.0], full=True)
        j_dd = float(j_dd[0, 0])
        j_un = float(dd_batch.solve([d], [t], [BANDGAP], gb, [0.0], space_charge=False)[0, 0])
        psi = sol[0, 0, :, 0]
        field = -np.diff(psi) / np.diff(s)
        mid = (s[1:] + s[:-1]) / 2
        dev = field[(mid > 0.1) & (mid < 0.9)] / -(psi[-1] - psi[0]) - 1
        j_ref = cached[mu, d]
        print(f"{mu:10.0e} {d:7.0f} | {j_fast:8.3f} {j_pair:7.3f} {j_un:9.3f} {j_dd:7.3f} {j_ref:7.3f}        | "
              f"{j_fast / j_ref:21.3f} {j_pair / j_ref:5.3f} {j_un / j_ref:8.3f} {j_dd / j_ref:7.3f} | "
              f"{dev.min() * 100:+.0f} .. {dev.max() * 100:+.0f} %", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
