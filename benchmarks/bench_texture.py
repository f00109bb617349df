"""Textured stacks (optics.redistribution) against RayFlare's ray tracer, one process.

Agreement: per-layer photocurrent (mA/cm^2 under AM1.5G, every absorbed photon counted) of the
two cases of tests/data/rayflare_texture_reference.json (RayFlare rt_structure with TMM lookup
tables, regular 54.74 deg pyramids with randomize_surface, our n,k), against our model with the
same geometry ("regular_upright") and with the default random pyramids. RayFlare's run time is
the one recorded with the reference (same machine class; the script and version are stored in
the JSON). Speed: one textured 2T design of studies/examples/cspbi3qd_si_2t_textured.toml on
its default 181-point grid (geometry traced once, then cached; 11 distinct designs), and
evaluate_batch throughput (64 designs; also with processes=2, forked chunks, as a ratio to one
process in the same worker), each in its own process, in rounds; ``--baseline DIR``
times older code (a checkout, e.g. ``git worktree add --detach /tmp/base a63cd71``) in the same
rounds and prints the speed-up per round.

Run:  python benchmarks/bench_texture.py [--baseline DIR] [--rounds 3] [--speed-only]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "data"))

import rayflare_texture_reference as ref  # noqa: E402

from optics.redistribution import solve_textured  # noqa: E402
from optics.spectra import jsc  # noqa: E402
from optics.texture import Texture  # noqa: E402


def agreement():
    data = json.loads((REPO / "tests" / "data" / "rayflare_texture_reference.json").read_text())
    print(f"RayFlare {data['rayflare_version']} reference ({data['script']})")
    for key, c in data["cases"].items():
        wl = np.array(c["wavelengths_nm"])
        n, d, coh, n0, nf = ref.case_arrays(c["stack"], wl)
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


def _speed_worker(root: str) -> None:
    """Time the textured example in the code at ``root`` (its own process, PYTHONPATH=root) and print JSON."""
    import tandem as tdm
    from studies.spec import load as load_spec

    spec = load_spec(Path(root) / "studies" / "examples" / "cspbi3qd_si_2t_textured.toml")
    rng = np.random.default_rng(0)
    designs = [spec.design({k: float(rng.uniform(b.low, b.high)) for k, b in spec.parameters.items()})
               for _ in range(64 + 12)]
    t0 = time.perf_counter()
    tdm.evaluate(designs[-1], with_cri=False)  # traces the geometry
    first = time.perf_counter() - t0
    single = []
    for d in designs[64:75]:  # distinct designs: nothing of the front films is reused
        t0 = time.perf_counter()
        tdm.evaluate(d, with_cri=False)
        single.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    tdm.evaluate_batch(designs[:64], with_cri=False)
    batch = time.perf_counter() - t0
    try:  # forked chunks (code without the keyword: n/a)
        t0 = time.perf_counter()
        tdm.evaluate_batch(designs[:64], with_cri=False, processes=2)
        batch2 = 64 / (time.perf_counter() - t0)
    except TypeError:
        batch2 = float("nan")
    print(json.dumps({"first_s": first, "single_ms": float(np.median(single)) * 1e3, "batch_per_s": 64 / batch,
                      "batch2_per_s": batch2}))


def speed(baseline: str | None = None, rounds: int = 3) -> None:
    """Textured 2T example: one design at a time (median over 11 distinct designs, geometry
    traced) and evaluate_batch of 64, each configuration in its own process, interleaved in
    rounds; with ``baseline`` (a checkout of older code) the same for it, as ratios."""
    import os
    import subprocess

    roots = {"this code": str(REPO)}
    if baseline:
        roots["baseline"] = str(Path(baseline).resolve())
    runs = {k: [] for k in roots}
    for _ in range(rounds):
        for name, root in roots.items():
            out = subprocess.run([sys.executable, __file__, "--speed-worker", root], capture_output=True, text=True,
                                 cwd=root, check=True, env={**os.environ, "PYTHONPATH": root}).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
    print(f"\ntextured 2T example, {rounds} rounds (medians; one process each):")
    for v in runs.values():
        for r in v:
            r.setdefault("batch2_per_s", float("nan"))  # a baseline worker that does not time it
    med = {k: {q: float(np.median([r[q] for r in v])) for q in v[0]} for k, v in runs.items()}
    for name, m in med.items():
        two = "n/a" if not np.isfinite(m["batch2_per_s"]) else f"{m['batch2_per_s']:6.1f} designs/s"
        print(f"  {name:10s} one design {m['single_ms']:6.1f} ms, evaluate_batch of 64 {m['batch_per_s']:6.1f} "
              f"designs/s, evaluate_batch of 64, 2 processes {two} (first call, tracing the geometry: "
              f"{m['first_s']:.1f} s)")
    ratios_p = [r["batch2_per_s"] / r["batch_per_s"] for r in runs["this code"]]
    print(f"  this code, 2 processes / 1 process (per round): {', '.join(f'{r:.2f}x' for r in ratios_p)}")
    if baseline:
        ratios_1 = [b["single_ms"] / a["single_ms"] for a, b in zip(runs["this code"], runs["baseline"])]
        ratios_b = [a["batch_per_s"] / b["batch_per_s"] for a, b in zip(runs["this code"], runs["baseline"])]
        print(f"  speed-up vs baseline (per round): one design {', '.join(f'{r:.2f}x' for r in ratios_1)}; "
              f"batch {', '.join(f'{r:.2f}x' for r in ratios_b)}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--speed-worker":
        _speed_worker(sys.argv[2])
        sys.exit(0)
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", help="checkout of older code to time in the same run (e.g. a git worktree)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--speed-only", action="store_true", help="skip the RayFlare agreement")
    args = ap.parse_args()
    if not args.speed_only:
        agreement()
    speed(args.baseline, args.rounds)
