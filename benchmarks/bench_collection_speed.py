"""Throughput of ``tandem.evaluate_batch`` with carrier collection (benchmark, not a test).

The CsPbI3 QD / Si 2T example (studies/examples/cspbi3qd_si_2t.toml): 256 random designs,
evaluated in batches of 64, with

* the default (drift-diffusion) carrier collection of this checkout,
* ``collection="ideal"`` (every absorbed photon collected) of this checkout,
* optionally the default model of other commits (``--baseline COMMIT``, repeatable; for example
  the code before carrier collection, 47d80ea), exported with ``git archive`` into a temporary directory.

Each configuration runs in its own Python process (so two versions of the package can be
compared), one after the other in rounds, so that all see the same machine load; each process
reports its best of ``--passes`` passes. The medians over ``--rounds`` rounds and the ratios of
each round are printed.

    PYTHONPATH=$PWD python benchmarks/bench_collection_speed.py
    PYTHONPATH=$PWD python benchmarks/bench_collection_speed.py --baseline 47d80ea
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = Path("studies") / "examples" / "cspbi3qd_si_2t.toml"

_WORKER = r"""
import dataclasses, sys, time
root, mode, n, batch, passes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sys.path.insert(0, root)
import numpy as np
from pathlib import Path
from studies.spec import load
from tandem import evaluate_batch
spec = load(Path(root) / {example!r})
rng = np.random.default_rng(0)
designs = [spec.design({{k: float(rng.uniform(b.low, b.high)) for k, b in spec.parameters.items()}})
           for _ in range(n)]
if mode == "ideal":
    designs = [dataclasses.replace(d, top=dataclasses.replace(d.top, collection="ideal"),
                                   bottom=dataclasses.replace(d.bottom, collection="ideal")) for d in designs]
evaluate_batch(designs[:4], with_cri=False)
best = float("inf")
for _ in range(passes):
    t = time.perf_counter()
    for i in range(0, n, batch):
        evaluate_batch(designs[i:i + batch], with_cri=False)
    best = min(best, time.perf_counter() - t)
print(n / best)
"""


def _run(root: Path, mode: str, n: int, batch: int, passes: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", _WORKER.format(example=str(EXAMPLE)), str(root), mode, str(n),
                          str(batch), str(passes)], capture_output=True, text=True, env=env, cwd=root)
    if out.returncode:
        raise RuntimeError(f"{root} ({mode}) failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.split()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", action="append", default=[],
                    help="commit (or ref) of this repository to compare with (repeatable)")
    ap.add_argument("--n", type=int, default=256, help="designs per pass")
    ap.add_argument("--batch", type=int, default=64, help="designs per evaluate_batch call")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--passes", type=int, default=3, help="passes per process (best one kept)")
    args = ap.parse_args(argv)
    configs = {"collection (default)": (ROOT, "default"), "collection='ideal'": (ROOT, "ideal")}
    with tempfile.TemporaryDirectory() as tmp:
        for commit in args.baseline:
            rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", commit], check=True,
                                 capture_output=True, text=True).stdout.strip()
            base = Path(tmp) / rev
            base.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True)
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
            configs[f"baseline {rev}"] = (base, "default")
        rates = {name: [] for name in configs}
        for r in range(args.rounds):
            for name, (root, mode) in configs.items():
                rates[name].append(_run(root, mode, args.n, args.batch, args.passes))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()), flush=True)
    ref = np.array(rates["collection (default)"])
    print(f"\n2T designs/s at batch {args.batch} (median of {args.rounds} rounds, best of {args.passes} passes each):")
    for name, v in rates.items():
        v = np.array(v)
        ratio = "" if name == "collection (default)" else \
            f"   default / this = {np.median(ref / v):.2f} (rounds {np.min(ref / v):.2f}-{np.max(ref / v):.2f})"
        print(f"  {name:24} {np.median(v):7.0f}  (range {v.min():.0f}-{v.max():.0f}){ratio}")


if __name__ == "__main__":
    main()
