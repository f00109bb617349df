"""Textured stacks (optics.redistribution) against RayFlare's ray tracer, one process.

Agreement: per-layer photocurrent (mA/cm^2 under AM1.5G, every absorbed photon counted) of the
two cases of tests/data/rayflare_texture_reference.json (RayFlare rt_structure with TMM lookup
tables, regular 54.74 deg pyramids with randomize_surface, our n,k), against our model with the
same geometry ("regular_upright") and with the default random pyramids. RayFlare's run time is
the one recorded with the reference (same machine class; the script and version are stored in
the JSON). Speed: one textured 2T design of studies/examples/cspbi3qd_si_2t_textured.toml on
its default 181-point grid (geometry traced once, then cached), and evaluate_batch throughput.

Run:  python benchmarks/bench_texture.py
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "data"))

import rayflare_texture_reference as ref  # noqa: E402

import tandem  # noqa: E402
from optics.redistribution import solve_textured  # noqa: E402
from optics.spectra import jsc  # noqa: E402
from optics.texture import Texture  # noqa: E402
from studies.spec import load  # noqa: E402


def case_arrays(case, wl):
    mats = [m for m, _ in case["front"]] + [case["wafer"][0]] + [m for m, _ in case["rear"]]
    d = [t for _, t in case["front"]] + [case["wafer"][1]] + [t for _, t in case["rear"]]
    n = np.array([ref.material(m).nk(wl) for m in mats])
    coh = [True] * len(case["front"]) + [False] + [True] * len(case["rear"])
    return n, d, coh, ref.material(case["incident"]).nk(wl).real + 0j, ref.material(case["exit"]).nk(wl)


def agreement():
    data = json.loads((REPO / "tests" / "data" / "rayflare_texture_reference.json").read_text())
    print(f"RayFlare {data['rayflare_version']} reference ({data['script']})")
    for key, c in data["cases"].items():
        wl = np.array(c["wavelengths_nm"])
        n, d, coh, n0, nf = case_arrays(c["stack"], wl)
        a_rf = np.vstack([np.array(c["A_front"]).reshape(-1, wl.size), np.array(c["A_wafer"])[None],
                          np.array(c["A_rear"]).reshape(-1, wl.size)])
        j_rf = jsc(a_rf, wl)
        names = [m for m, _ in c["stack"]["front"]] + [c["stack"]["wafer"][0]] + [m for m, _ in c["stack"]["rear"]]
        cons = np.abs(np.array(c["R"]) + np.array(c["T"]) + a_rf.sum(0) - 1).max()
        print(f"\ncase {key}: {len(wl)} wavelengths, RayFlare {c['n_rays']} rays/wavelength, "
              f"{c['seconds']:.0f} s; its energy balance error {cons:.1e}")
        for kind in ("regular_upright", "random_upright"):
            tex = Texture(kind, data["facet_deg"])
            solve_textured(n, d, coh, wl, n0, nf, tex, tex)  # trace the geometry once
            t0 = time.perf_counter()
            r = solve_textured(n, d, coh, wl, n0, nf, tex, tex)
            dt = time.perf_counter() - t0
            j = jsc(r.A, wl)
            diff = j - j_rf
            worst = int(np.argmax(np.abs(diff)))
            print(f"  {kind:16s} {dt * 1e3:7.1f} ms (RayFlare / ours = {c['seconds'] / dt:,.0f}x); "
                  f"max |dJ| {abs(diff[worst]):.2f} mA/cm2 ({names[worst]}); R {jsc(r.R, wl):.2f} vs "
                  f"{jsc(np.array(c['R']), wl):.2f}, T {jsc(r.T, wl):.2f} vs {jsc(np.array(c['T']), wl):.2f}")
            print("    layer   " + " ".join(f"{x[:9]:>9s}" for x in names))
            print("    ours    " + " ".join(f"{x:9.2f}" for x in j))
            print("    RayFlare" + " ".join(f"{x:9.2f}" for x in j_rf))


def speed():
    spec = load(REPO / "studies" / "examples" / "cspbi3qd_si_2t_textured.toml")
    mid = {k: 0.5 * (b.low + b.high) for k, b in spec.parameters.items()}
    d = spec.design(mid)
    t0 = time.perf_counter()
    tandem.evaluate(d, with_cri=False)
    first = time.perf_counter() - t0
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        tandem.evaluate(d, with_cri=False)
        times.append(time.perf_counter() - t0)
    planar = dataclasses.replace(d, light_trapping="none")
    tp = min(time.perf_counter() - t0 for t0 in [time.perf_counter()] if tandem.evaluate(planar, with_cri=False))
    rng = np.random.default_rng(0)
    designs = [spec.design({k: float(rng.uniform(b.low, b.high)) for k, b in spec.parameters.items()})
               for _ in range(64)]
    t0 = time.perf_counter()
    tandem.evaluate_batch(designs, with_cri=False)
    batch = time.perf_counter() - t0
    print(f"\ntextured 2T design, {d.wavelengths().size} wavelengths: first {first:.1f} s (traces the geometry), "
          f"then {min(times) * 1e3:.0f} ms (planar: {tp * 1e3:.0f} ms); evaluate_batch of 64: "
          f"{64 / batch:.1f} designs/s (one process)")


if __name__ == "__main__":
    agreement()
    speed()
