"""``qdtandem report``: one design, or a finished study, as a report a lab can act on.

Input: a simulate file (one fixed design), or a study file (its storage and ``[study] name``),
or ``--storage URL --study NAME`` alone (the study file text is read back from the study's
``study_file_text`` attribute). For a study the report shows its best feasible design (the
highest-PCE design of the Pareto front for multi-objective studies), or ``--trial N``.

Output (``--out DIR``, default ``reports/<name>``):

* ``report.html``: self-contained; every figure is an embedded base64 PNG, the styles are
  inline, and nothing is fetched from the network;
* ``report.md`` with ``figures/*.png``, for notebooks and git;
* ``report.json``: every number in the report (NaN written as null);
* ``design.toml``: the reported design as a runnable simulate file.

Sections: summary (key findings), stack (table with n,k provenance, to-scale drawing),
headline numbers (device, subcells, electrical model), where the light goes (R/T/A per layer
with the photocurrent of each part), EQE, n,k, G(z, lambda), J-V with MPPs, transmitted colour
(semitransparent cells); for a study also the optimisation history, parameter importances,
Pareto front (multi-objective), top-10 designs and the sensitivity view; then the design as a
simulate file and reproducibility (versions, git commit, the study file, seed, dates).

Every device number is computed now with ``tandem.evaluate`` on the design (the values
recorded in the study are shown beside it, and a difference is flagged: it means the models
changed since the study ran). The parasitic losses are ``optics.spectra.jsc`` of each layer's
absorptance (mA/cm^2; AM1.5G, or the design's spectrum) in ``DeviceResult.optics``, so
absorbed + reflected + transmitted currents add up to the photon current available on the
optical grid. The sensitivity view re-evaluates the design with each free parameter moved
around the optimum (thicknesses +/- ``tolerance_pct`` %, bandgaps +/- ``bandgap_tolerance_ev``,
kept inside the material's tunable range and the study's bounds) in one
``tandem.evaluate_batch`` call, and marks the points that break a study constraint; a free
parameter that ended at a bound of the study is flagged.

Modules: ``load`` (which design, from which file or study), ``data`` and ``study`` (the
numbers), ``findings`` (key findings), ``figures`` (one figure function per section, drawn
with ``plots``), ``render`` (one block function per section; HTML and Markdown). This module
holds the ``qdtandem report`` subcommand and ``write_report``.

Adding a section: its numbers in ``data.build_data``, its id in ``data.section_ids``, a title
in ``render.SECTION_TITLES``, a block function in ``render.BLOCKS`` and, if it has figures, a
figure function in ``figures.FIGURES`` (``energy_yield`` is an example).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import JV_POINTS, build_data, cri_reference, generation_map_data, photocurrents, section_ids, versions
from .figures import FIGURES, FigureOut, make_figures, metric_label, transmitted_srgb
from .findings import key_findings
from .load import ReportError, Subject, load_subject
from .render import BLOCKS, SECTION_TITLES, headline_rows, json_safe, render_html, render_markdown
from .study import SENSITIVITY_POINTS, parameters_at_bounds, sensitivity, study_data

__all__ = ["BLOCKS", "FIGURES", "JV_POINTS", "SECTION_TITLES", "SENSITIVITY_POINTS", "FigureOut", "ReportError",
           "ReportOutput", "Subject", "build_data", "cri_reference", "generation_map_data", "headline_rows", "key_findings", "load_subject",
           "make_figures", "metric_label", "parameters_at_bounds", "photocurrents", "render_html", "render_markdown",
           "section_ids", "sensitivity", "study_data", "transmitted_srgb", "versions", "write_report"]

COMMAND = "report"
HELP = "write an HTML + Markdown report of a design (simulate file) or of a finished study"


# --------------------------------------------------------------------------- CLI


def add_arguments(p) -> None:
    p.add_argument("input", nargs="?", default=None,
                   help="simulate file, or study file (TOML); may be omitted with --storage and --study")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="optuna storage URL of the study (default: the study file's storage)")
    p.add_argument("--study", default=None, metavar="NAME",
                   help="study name in the storage (default: [study] name of the study file)")
    p.add_argument("--trial", type=int, default=None, metavar="N",
                   help="report trial N instead of the best feasible design")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default: reports/<name>)")
    p.add_argument("--tolerance", type=float, default=10.0, metavar="PCT",
                   help="sensitivity view: thickness change around the optimum, +/- PCT %% (default 10)")
    p.add_argument("--bandgap-tolerance", type=float, default=0.05, metavar="EV",
                   help="sensitivity view: bandgap change around the optimum, +/- EV (default 0.05)")


def run(args) -> int:
    out = write_report(args.input, storage=args.storage, study_name=args.study, trial=args.trial,
                       out_dir=args.out, tolerance_pct=args.tolerance,
                       bandgap_tolerance_ev=args.bandgap_tolerance)
    h = out.data["headline"]
    print(f"{out.data['title']}: PCE {h['pce_pct']:.2f} %")
    for k in ("html", "markdown", "json", "design"):
        print(f"wrote {k}: {out.files[k]}")
    return 0


# --------------------------------------------------------------------------- entry point


@dataclass
class ReportOutput:
    data: dict[str, Any]
    files: dict[str, Path]
    figures: list[FigureOut]


def write_report(path: str | Path | None = None, *, storage: str | None = None, study_name: str | None = None,
                 trial: int | None = None, out_dir: str | Path | None = None, tolerance_pct: float = 10.0,
                 bandgap_tolerance_ev: float = 0.05) -> ReportOutput:
    """Build the report of a design or of a study's best design and write it to ``out_dir``.

    Parameters
    ----------
    path : str or Path, optional
        A simulate file (every thickness and bandgap fixed) or a study file. May be omitted
        when ``storage`` and ``study_name`` are given (the study file is read from the study).
    storage : str, optional
        optuna storage URL (or SQLite / journal file path) of the study; default: the study
        file's storage.
    study_name : str, optional
        Study name in the storage; default: ``[study] name`` of the study file.
    trial : int, optional
        Report this completed trial instead of the best feasible design.
    out_dir : str or Path, optional
        Output directory, created if needed; default ``reports/<name>``.
    tolerance_pct : float, default 10
        Sensitivity scan of thicknesses: +/- this many % of the value, in (0, 100).
    bandgap_tolerance_ev : float, default 0.05
        Sensitivity scan of bandgaps: +/- this many eV, in (0, 0.5].

    Returns
    -------
    ReportOutput
        ``data`` (every number of the report, as written to report.json), ``files``
        (html, markdown, json, design, figures) and ``figures`` (the PNGs).

    Raises
    ------
    ReportError
        A ValueError with one line naming the file, storage, study or option at fault.
    """
    if not (math.isfinite(tolerance_pct) and 0 < tolerance_pct < 100):
        raise ReportError(f"--tolerance must lie in (0, 100) %, got {tolerance_pct}")
    if not (math.isfinite(bandgap_tolerance_ev) and 0 < bandgap_tolerance_ev <= 0.5):
        raise ReportError(f"--bandgap-tolerance must lie in (0, 0.5] eV, got {bandgap_tolerance_ev}")
    subject = load_subject(path, storage=storage, study_name=study_name, trial=trial)
    data, design, result = build_data(subject, tolerance_pct=tolerance_pct, bandgap_tolerance_ev=bandgap_tolerance_ev)
    figs = make_figures(subject, data, design, result)
    by_key = {f.key: f for f in figs}
    out = Path(out_dir) if out_dir is not None else Path("reports") / subject.name
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for f in figs:
        (fig_dir / f"{f.key}.png").write_bytes(f.png)
    files["html"] = out / "report.html"
    files["html"].write_text(render_html(data, by_key), encoding="utf-8")
    files["markdown"] = out / "report.md"
    files["markdown"].write_text(render_markdown(data, by_key), encoding="utf-8")
    files["json"] = out / "report.json"
    files["json"].write_text(json.dumps(json_safe(data), indent=1, allow_nan=False), encoding="utf-8")
    files["design"] = out / "design.toml"
    files["design"].write_text(data["design_toml"], encoding="utf-8")
    files["figures"] = fig_dir
    return ReportOutput(data, files, figs)