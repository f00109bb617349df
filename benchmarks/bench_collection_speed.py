"""Cost of carrier collection in ``tandem.evaluate_batch`` (benchmark, not a test).

The CsPbI3 QD / Si 2T example (studies/examples/cspbi3qd_si_2t.toml): 256 random designs,
evaluated in batches of 64 with the default drift-diffusion collection and with
``collection="ideal"`` (the model before carrier collection), alternating in one process so
that both see the same machine load; best of 5 rounds.

    PYTHONPATH=$PWD python benchmarks/bench_collection_speed.py
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studies.spec import load  # noqa: E402
from tandem import evaluate_batch  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "studies" / "examples" / "cspbi3qd_si_2t.toml"


def ideal(d):
    top = dataclasses.replace(d.top, collection="ideal")
    bottom = d.bottom if d.bottom is None else dataclasses.replace(d.bottom, collection="ideal")
    return dataclasses.replace(d, top=top, bottom=bottom)


def main(n: int = 256, batch: int = 64, rounds: int = 5) -> None:
    spec = load(EXAMPLE)
    rng = np.random.default_rng(0)
    params = [{k: float(rng.uniform(b.low, b.high)) for k, b in spec.parameters.items()} for _ in range(n)]
    designs = [spec.design(p) for p in params]
    plain = [ideal(d) for d in designs]
    evaluate_batch(designs[:4], with_cri=False)
    evaluate_batch(plain[:4], with_cri=False)
    best = {"drift-diffusion": np.inf, "ideal": np.inf}
    for _ in range(rounds):
        for name, ds in (("drift-diffusion", designs), ("ideal", plain)):
            t = time.perf_counter()
            for i in range(0, n, batch):
                evaluate_batch(ds[i:i + batch], with_cri=False)
            best[name] = min(best[name], time.perf_counter() - t)
    for name, t in best.items():
        print(f"collection={name!r:18}: {n / t:7.0f} 2T designs/s at batch {batch}")
    print(f"cost of collection: x{best['drift-diffusion'] / best['ideal']:.2f} time per design")


if __name__ == "__main__":
    main()
