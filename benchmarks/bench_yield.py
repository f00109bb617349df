"""Speed and accuracy of the annual energy yield (benchmark, not a test).

    python benchmarks/bench_yield.py [--site greensboro] [--batch 64] [--json out.json]

Designs: the CsPbI3 QD / Si 2T example (studies/examples/cspbi3qd_si_2t.toml) with random
free parameters. Timed, in one process:

1. the site's hourly spectra (TMY read, transposition, SPECTRL2; once per site and mounting);
2. one design's annual yield, binned (the default), without and with the loss cascade;
3. a batch of designs in one call (binned, no loss cascade: what a study objective runs);
4. the same designs hour by hour (``method="hourly"``, the reference): the speed-up of the
   binning as a ratio, and the relative difference of the annual yields (max and mean |dE|/E).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studies.spec import load  # noqa: E402
from tandem import energy_yield as ey  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "studies" / "examples" / "cspbi3qd_si_2t.toml"


def designs(spec, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [spec.design({k: float(rng.uniform(b.low, b.high)) for k, b in spec.parameters.items()})
            for _ in range(n)]


def best_of(f, repeat: int = 3) -> tuple[float, float]:
    """Best wall time and the process CPU time of that run, s (on a shared machine the CPU
    time divided by the cores used is the wall time an idle machine would give)."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        f()
        best = min(best, (time.perf_counter() - t, time.process_time() - c))
    return best


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", default="greensboro")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reference", type=int, default=8, help="designs also solved hour by hour")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    spec = load(EXAMPLE)
    t = time.perf_counter()
    cond = ey.yield_conditions(args.site)
    t_cond = time.perf_counter() - t
    batch = designs(spec, args.batch)
    one = batch[:1]
    ey.annual_yield_batch(one, cond)  # warm the per-grid caches (spectral kernels, black body)
    t_one = best_of(lambda: ey.annual_yield_batch(one, cond))
    t_one_losses = best_of(lambda: ey.annual_yield_batch(one, cond, losses=True))
    t_batch = best_of(lambda: ey.annual_yield_batch(batch, cond), repeat=2)

    ref = batch[:args.reference]
    t = time.perf_counter()
    hourly = ey.annual_yield_batch(ref, cond, method="hourly")
    t_hourly = time.perf_counter() - t
    t = time.perf_counter()
    binned = ey.annual_yield_batch(ref, cond)
    t_binned = time.perf_counter() - t
    rel = np.array([b.energy_yield_kwh_m2 / h.energy_yield_kwh_m2 - 1 for b, h in zip(binned, hourly)])

    out = {
        "site": args.site, "hours_with_light": cond.n_hours,
        "conditions_s": t_cond,
        "one_design_s": t_one[0], "one_design_cpu_s": t_one[1],
        "one_design_with_losses_s": t_one_losses[0], "one_design_with_losses_cpu_s": t_one_losses[1],
        f"batch_{args.batch}_s": t_batch[0], f"batch_{args.batch}_cpu_s": t_batch[1],
        "batch_per_design_s": t_batch[0] / args.batch,
        "reference_designs": len(ref), "hourly_s": t_hourly, "binned_s": t_binned,
        "speedup_binned_vs_hourly": t_hourly / t_binned,
        "bins_mean": float(np.mean([b.n_bins for b in binned])),
        "max_abs_rel_diff_pct": float(np.max(np.abs(rel)) * 100),
        "mean_abs_rel_diff_pct": float(np.mean(np.abs(rel)) * 100),
    }
    for k, v in out.items():
        print(f"{k:28s} {v:.4g}" if isinstance(v, float) else f"{k:28s} {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
