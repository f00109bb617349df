"""Time to build the report of the README's quick example (target: < 20 s on 2 cores).

Copies studies/examples/quick.toml to a temporary directory, runs
``qdtandem optimize quick.toml`` there (not timed), then times

* ``qdtandem report quick.toml`` as a user runs it (a fresh process: imports, reading the
  study, evaluation, figures, writing), best of ``--repeat`` runs;
* the phases of the same build in this process (after imports): loading the study,
  the numbers (evaluation, profile, sensitivity batch), the figures, rendering and writing.

Run:  python benchmarks/bench_report.py [--repeat 3] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cli() -> list[str]:
    exe = shutil.which("qdtandem")
    return [exe] if exe else [sys.executable, "-m", "studies.cli"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", default=None, help="copy the report to this directory")
    args = ap.parse_args(argv)
    env = dict(os.environ, MPLBACKEND="Agg")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(ROOT / "studies" / "examples" / "quick.toml", work / "quick.toml")
        t0 = time.perf_counter()
        subprocess.run(_cli() + ["optimize", "quick.toml", "--no-progress"], cwd=work, env=env, check=True,
                       capture_output=True)
        t_opt = time.perf_counter() - t0

        walls = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run(_cli() + ["report", "quick.toml", "--out", "report"], cwd=work, env=env, check=True,
                           capture_output=True)
            walls.append(time.perf_counter() - t0)

        os.environ.setdefault("MPLBACKEND", "Agg")
        t0 = time.perf_counter()
        from studies import report as rep
        t_import = time.perf_counter() - t0
        phases = {}
        t0 = time.perf_counter()
        subject = rep.load_subject(work / "quick.toml")
        phases["load study"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        data, design, result = rep.build_data(subject)
        phases["numbers (evaluate, sensitivity batch)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        figs = rep.make_figures(subject, data, design, result)
        phases[f"figures ({len(figs)} PNGs)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        by_key = {f.key: f for f in figs}
        html = rep.render_html(data, by_key)
        md = rep.render_markdown(data, by_key)
        phases["render HTML + Markdown"] = time.perf_counter() - t0

        print(f"qdtandem report of the quick example ({platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()})")
        print(f"  optimize quick.toml (setup, not timed): {t_opt:.1f} s")
        print(f"  qdtandem report, fresh process: best {min(walls):.2f} s of {len(walls)} "
              f"({', '.join(f'{w:.2f}' for w in walls)})")
        print(f"  in-process phases (imports {t_import:.2f} s):")
        for k, v in phases.items():
            print(f"    {k:40s} {v:6.2f} s")
        print(f"    {'total after imports':40s} {sum(phases.values()):6.2f} s")
        print(f"  HTML {len(html) / 1e6:.2f} MB, Markdown {len(md) / 1e3:.1f} kB")
        if args.keep:
            shutil.copytree(work / "report", args.keep, dirs_exist_ok=True)
            print(f"  report copied to {args.keep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
