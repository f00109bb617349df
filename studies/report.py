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
changed since the study ran). The parasitic losses are ``optics.jsc`` of each layer's
absorptance (mA/cm^2; AM1.5G, or the design's spectrum) in ``DeviceResult.optics``, so
absorbed + reflected + transmitted currents add up to the photon current available on the
optical grid. The sensitivity view re-evaluates the design with each free parameter moved
around the optimum (thicknesses +/- ``tolerance_pct`` %, bandgaps +/- ``bandgap_tolerance_ev``,
kept inside the material's tunable range) in one ``tandem.evaluate_batch`` call, and marks
the points that break a study constraint.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import spec as specmod

COMMAND = "report"
HELP = "write an HTML + Markdown report of a design (simulate file) or of a finished study"

SENSITIVITY_POINTS = 9
JV_POINTS = 301
_VERSION_PACKAGES = ("qdtandem", "numpy", "scipy", "pandas", "matplotlib", "optuna", "tmm",
                     "colour-science", "pvlib", "SQLAlchemy")


class ReportError(ValueError):
    """Input that cannot be reported on (missing file or study, no completed trials ...)."""


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


# --------------------------------------------------------------------------- input


@dataclass
class Subject:
    """What a report is about: a design (spec + parameter values), optionally from a study."""

    spec: Any                               # studies.spec.DeviceSpec
    params: dict[str, float]
    name: str
    study: Any = None                       # optuna.Study
    trial: Any = None                       # optuna FrozenTrial of the reported design
    storage_url: str | None = None
    warnings: list[str] = field(default_factory=list)


def mask_url(url: str | None) -> str | None:
    """The storage URL with any password hidden."""
    if not url or "://" not in url or "@" not in url:
        return url
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:   # not an SQLAlchemy URL: drop the credentials part entirely
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def load_subject(path: str | Path | None, *, storage: str | None = None, study_name: str | None = None,
                 trial: int | None = None) -> Subject:
    """Resolve the report's input; raises ReportError (a ValueError) with a clear message."""
    spec = None
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ReportError(f"{path}: no such simulate or study file")
        spec = specmod.load(p)
        if spec.study is None:
            if storage or study_name or trial is not None:
                raise ReportError(f"{path} is a simulate file (no [study] table); --storage, --study and "
                                  "--trial are for study reports")
            if not spec.is_fixed:
                raise ReportError(f"{path}: free parameters {list(spec.parameters)} but no [study] table; "
                                  "fix every thickness and bandgap, or run it as a study first")
            return Subject(spec, {}, p.stem)
    elif not (storage and study_name):
        raise ReportError("give a simulate or study file, or --storage URL and --study NAME")
    return _load_study_subject(spec, storage, study_name, trial)


def _load_study_subject(spec, storage, study_name, trial_number) -> Subject:
    import optuna
    from optuna.trial import TrialState

    from . import run as runmod

    name = study_name or spec.study.name
    url = runmod.resolve_storage(storage) if storage else runmod.storage_url(spec)
    shown = mask_url(url)
    db = runmod.storage_file(url)           # SQLite or journal file: opening would create it
    if db is not None:
        if not db.is_file():
            hint = f"; run `qdtandem optimize {spec.source}` first" if spec is not None else ""
            raise ReportError(f"no study storage at {db}{hint}")
    try:
        st = runmod.open_storage(url)
        names = optuna.study.get_all_study_names(st)
    except ReportError:
        raise
    except Exception as e:   # driver/connection errors of any storage backend
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if url.startswith("postgresql://") and isinstance(e, ImportError):
            # SQLAlchemy 2.1 maps postgresql:// to psycopg 3; psycopg2 needs the explicit driver
            first += " (with psycopg2 installed, write the URL as postgresql+psycopg2://...)"
        raise ReportError(f"cannot open storage {shown}: {first}") from None
    if name not in names:
        raise ReportError(f"no study named {name!r} in {shown}; studies there: "
                          f"{', '.join(sorted(names)) if names else 'none'}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=st)
    if spec is None:
        text = study.user_attrs.get("study_file_text")
        if not text:
            raise ReportError(f"study {name!r} in {shown} has no stored study file; pass the study file")
        spec = specmod.loads(text, source=str(study.user_attrs.get("study_file", name)), require_study=True)
    trials = study.get_trials(deepcopy=False)
    if not trials:
        raise ReportError(f"study {name!r} in {shown} is empty (no trials); run `qdtandem optimize` first")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        states: dict[str, int] = {}
        for t in trials:
            states[t.state.name] = states.get(t.state.name, 0) + 1
        desc = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        raise ReportError(f"study {name!r} in {shown} has no completed trials ({desc}); nothing to report")
    free = set(spec.parameters)
    if set(complete[0].params) != free:
        raise ReportError(f"study {name!r} has parameters {sorted(complete[0].params)} but {spec.source} has "
                          f"{sorted(free)}: the study file does not belong to this study")
    warnings: list[str] = []
    if trial_number is not None:
        match = [t for t in complete if t.number == trial_number]
        if not match:
            raise ReportError(f"study {name!r} has no completed trial {trial_number}")
        chosen = match[0]
    else:
        best = runmod.best_trials(study)
        if best:
            chosen = best[0]
        else:
            sign = 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
            chosen = max(complete, key=lambda t: (sign * t.values[0], -t.number))
            warnings.append("No completed trial satisfies the study's constraints: the design shown is the "
                            f"best infeasible one (trial {chosen.number}).")
    if chosen.user_attrs.get("feasible") is False and trial_number is not None:
        warnings.append(f"Trial {chosen.number} violates a constraint of the study: "
                        f"{chosen.user_attrs.get('violations', {})}.")
    return Subject(spec, dict(chosen.params), name, study, chosen, url, warnings)


# --------------------------------------------------------------------------- data


def _f(x) -> float:
    return float(x) if x is not None else math.nan


def _role(spec, i: int) -> str:
    if i == spec.top.absorber:
        return "top absorber" if spec.bottom is not None else "absorber"
    if spec.bottom is not None and i == spec.bottom.absorber:
        return "bottom absorber"
    if i in spec.interconnect:
        return "interconnect"
    return ""


def stack_rows(spec, design) -> list[dict[str, Any]]:
    """One row per layer: name, material, thickness (nm), Eg (eV), n,k source and kind."""
    rows = []
    free = spec.parameters
    for i, (lay, ol) in enumerate(zip(spec.layers, design.stack.layers)):
        mat = ol.material
        prov = getattr(mat, "provenance", None)
        if lay.material is None:
            material = f"n = {lay.nk.real:g}, k = {lay.nk.imag:g}"
            source, kind, doi, licence = "constant n,k given in the file", "constant", "", ""
        else:
            material = lay.material
            source = getattr(prov, "source", "") or ""
            kind = getattr(prov, "kind", "") or ""
            doi = getattr(prov, "doi", "") or ""
            licence = getattr(prov, "licence", "") or ""
        rows.append({
            "index": i, "name": lay.name, "material": material,
            "thickness_nm": float(ol.thickness_nm),
            "bandgap_ev": _f(getattr(mat, "bandgap_ev", None)),
            "coherent": bool(lay.coherent), "role": _role(spec, i),
            "category": getattr(mat, "category", None),
            "free": [k.split(".", 1)[1] for k in free if k.split(".", 1)[0] == lay.name],
            "nk_source": source, "nk_kind": kind, "doi": doi, "licence": licence,
        })
    return rows


def photon_current(arr, wl: np.ndarray, spectrum: str = "AM1.5G"):
    """Photocurrent (mA/cm^2) of an absorptance-like spectrum [..., W] under ``spectrum``:
    ``optics.jsc`` for AM1.5G, the same quadrature with the device model's spectrum otherwise."""
    import optics

    a = np.clip(np.asarray(arr, dtype=float), 0, None)
    if spectrum == "AM1.5G":
        return optics.jsc(a, wl)
    from tandem import electrical as el

    return el.jsc_from_eqe(a, wl, spectrum)


def photon_flux(wl: np.ndarray, spectrum: str = "AM1.5G") -> np.ndarray:
    """Photon flux (photons s^-1 m^-2 nm^-1) of the illumination at ``wl`` (nm)."""
    from optics.spectra import C_LIGHT, H_PLANCK, am15g_photon_flux

    if spectrum == "AM1.5G":
        return am15g_photon_flux(wl)
    from tandem import electrical as el

    ref_wl, irr = el.spectrum_table(spectrum)
    return np.interp(wl, ref_wl, irr, left=0.0, right=0.0) * wl * 1e-9 / (H_PLANCK * C_LIGHT)


def photocurrents(result, spectrum: str = "AM1.5G") -> dict[str, Any]:
    """Photon current (mA/cm^2 under ``spectrum``) absorbed in each layer, reflected and transmitted."""
    o = result.optics
    wl = np.asarray(o.wavelengths_nm, dtype=float)
    per_layer = np.atleast_1d(photon_current(o.A, wl, spectrum))
    return {
        "layers": {lab: float(v) for lab, v in zip(o.labels, per_layer)},
        "reflected": float(photon_current(o.R, wl, spectrum)),
        "transmitted": float(photon_current(o.T, wl, spectrum)),
        "available": float(photon_current(np.ones_like(wl), wl, spectrum)),
        "wavelength_range_nm": [float(wl[0]), float(wl[-1])],
        "spectrum": spectrum,
    }


def subcell_rows(spec, design, result) -> list[dict[str, Any]]:
    """Per subcell: its J-V figures of merit and the electrical model behind them."""
    from tandem import electrical as el

    rows = []
    for role, sub, cell in (("top", design.top, result.top), ("bottom", design.bottom, result.bottom)):
        if cell is None or sub is None:
            continue
        preset = el.get_preset(sub.preset)
        model = dict(sub.parameters) if hasattr(sub, "parameters") else {}
        rows.append({
            "role": role if design.bottom is not None else "cell",
            "absorber": spec.layers[sub.absorber].name, "preset": sub.preset,
            "jsc_ma_cm2": cell.jsc_ma_cm2, "jph_ma_cm2": cell.jph_ma_cm2, "voc_v": cell.voc_v,
            "ff_pct": cell.ff_pct, "pce_pct": cell.pce_pct, "vmpp_v": cell.vmpp_v,
            "jmpp_ma_cm2": cell.jmpp_ma_cm2, "ere": cell.ere, "voc_rad_v": cell.voc_rad_v,
            "v_operating_v": cell.v_operating_v,
            "model": {**{k: float(v) for k, v in model.items()}, "iqe": float(sub.iqe)},
            "reference": getattr(preset, "reference", ""),
        })
    return rows


def sensitivity(spec, params: Mapping[str, float], tolerance_pct: float = 10.0,
                bandgap_tolerance_ev: float = 0.05, points: int = SENSITIVITY_POINTS) -> list[dict[str, Any]]:
    """PCE (%) with one free parameter moved around ``params``, the others held.

    Thicknesses: value x (1 + r), r in [-tolerance, +tolerance]; bandgaps: value + dE,
    dE in [-bandgap_tolerance, +bandgap_tolerance] eV, kept inside the material's tunable
    range. Points whose design is invalid (e.g. outside an electrical preset's range) are NaN.
    All designs are evaluated in one ``tandem.evaluate_batch`` call.
    """
    import nkdata
    import tandem

    if not params:
        return []
    offsets = np.linspace(-1.0, 1.0, points)
    entries, designs, where = [], [], []
    for name, value in params.items():
        layer, what = name.split(".", 1)
        if what == "thickness_nm":
            rel = offsets * tolerance_pct / 100.0
            values = value * (1.0 + rel)
            x = 100.0 * rel
            x_label = "thickness change (%)"
        else:
            lay = next(l for l in spec.layers if l.name == layer)
            lo, hi = nkdata.TUNABLE.get(lay.material, (-math.inf, math.inf))
            values = np.clip(value + offsets * bandgap_tolerance_ev, lo, hi)
            values = np.unique(values)
            x = 1000.0 * (values - value)
            x_label = "bandgap change (meV)"
        e = {"parameter": name, "optimum": float(value), "values": [float(v) for v in values],
             "x": [float(v) for v in x], "x_label": x_label, "pce_pct": [math.nan] * len(values),
             "feasible": [False] * len(values), "avt_pct": [math.nan] * len(values)}
        for j, v in enumerate(values):
            p = dict(params)
            p[name] = float(v)
            try:
                designs.append(spec.design(p))
                where.append((len(entries), j, p))
            except ValueError:
                pass
        entries.append(e)
    if designs:
        try:
            res = tandem.evaluate_batch(designs, with_cri=False).results
        except ValueError:   # pin the bad design: evaluate one at a time
            res = []
            for d in designs:
                try:
                    res.append(tandem.evaluate(d, with_cri=False))
                except ValueError:
                    res.append(None)
        from .run import _metrics_from_result, outcome_from_metrics
        for (k, j, p), r in zip(where, res):
            if r is not None:
                entries[k]["pce_pct"][j] = float(r.pce_pct)
                entries[k]["avt_pct"][j] = float(r.avt_pct)
                if spec.study is not None:
                    o = outcome_from_metrics(spec.study, _metrics_from_result(spec, p, r))
                    entries[k]["feasible"][j] = bool(o.feasible)
                else:
                    entries[k]["feasible"][j] = True
    for e in entries:
        y = np.array(e["pce_pct"])
        x = np.array(e["x"])
        e["pce_low_pct"] = float(y[0])
        e["pce_high_pct"] = float(y[-1])
        e["pce_at_optimum_pct"] = float(np.interp(0.0, x, y)) if np.all(np.isfinite(y)) else math.nan
        e["max_drop_pct"] = float(np.nanmax(e["pce_at_optimum_pct"] - y)) if np.any(np.isfinite(y)) else math.nan
    return entries


def versions() -> dict[str, str]:
    """Python, package versions, the platform, and the git commit of a qdtandem checkout."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in _VERSION_PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    out["platform"] = platform.platform()
    commit = _git_commit(Path(__file__).resolve().parents[1])
    if commit:
        out["qdtandem git commit"] = commit
    return out


def _git_commit(root: Path) -> str | None:
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                "optics", "nkdata", "tandem", "studies"],
                               cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def _study_data(subject: Subject) -> dict[str, Any]:
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    from . import run as runmod

    study, spec = subject.study, subject.spec
    metrics = study.user_attrs.get("objective_metrics") or spec.study.objective_metrics
    maximise = [d == StudyDirection.MAXIMIZE for d in study.directions]
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    history = {
        "number": [t.number for t in complete],
        "value": [float(t.values[0]) for t in complete],
        "feasible": [bool(t.user_attrs.get("feasible", True)) for t in complete],
    }
    imps = study.user_attrs.get("param_importances") or runmod.param_importances(study)
    best = runmod.best_trials(study)
    front_numbers = [t.number for t in best]
    feasible = [t for t in complete if t.user_attrs.get("feasible", True)]
    sign = 1 if maximise[0] else -1
    ranked = sorted(feasible, key=lambda t: (-sign * t.values[0], t.number))[:10]
    top10 = []
    for t in ranked:
        m = t.user_attrs.get("metrics", {})
        top10.append({
            "trial": t.number,
            "objectives": {k: float(v) for k, v in zip(metrics, t.values)},
            "params": {k: float(v) for k, v in t.params.items()},
            "metrics": {k: float(m[k]) for k in ("pce_pct", "top_jsc_ma_cm2", "bottom_jsc_ma_cm2",
                                                  "mismatch_ma_cm2", "avt_pct") if k in m},
            "pareto": t.number in front_numbers,
        })
    out: dict[str, Any] = {
        "name": study.study_name,
        "storage": mask_url(subject.storage_url),
        "objectives": list(metrics),
        "directions": ["maximize" if m else "minimize" for m in maximise],
        "sampler": study.user_attrs.get("sampler", spec.study.sampler),
        "seed": study.user_attrs.get("seed", spec.study.seed),
        "constraints": [c.name for c in spec.study.constraints],
        "n_trials": len(trials), "states": states, "n_feasible": len(feasible),
        "created_utc": study.user_attrs.get("created_utc"),
        "last_run_utc": study.user_attrs.get("last_run_utc"),
        "history": history, "importances": imps, "top10": top10,
        "chosen_trial": subject.trial.number, "multi_objective": len(metrics) > 1,
    }
    if len(metrics) > 1:
        out["pareto"] = {
            "metrics": list(metrics[:2]),
            "all": [[float(t.values[0]), float(t.values[1])] for t in feasible],
            "infeasible": [[float(t.values[0]), float(t.values[1])] for t in complete
                           if not t.user_attrs.get("feasible", True)],
            "front": [[float(t.values[0]), float(t.values[1])] for t in best],
            "front_trials": front_numbers,
        }
    return out


def build_data(subject: Subject, *, tolerance_pct: float = 10.0, bandgap_tolerance_ev: float = 0.05
               ) -> tuple[dict[str, Any], Any, Any]:
    """The report's numbers as a JSON-able dict, with the evaluated design and its DeviceResult."""
    import tandem

    spec, params = subject.spec, subject.params
    design = spec.design(params)
    spectrum = getattr(design, "spectrum", "AM1.5G")
    result = tandem.evaluate(design, jv_points=JV_POINTS)   # finer J-V curve; MPPs do not depend on it
    headline = {k: float(v) for k, v in result.to_dict().items()}
    headline["limiting"] = result.limiting
    derived = spec.derived_metrics(params)
    data: dict[str, Any] = {
        "title": (f"Study {subject.name!r}: trial {subject.trial.number}" if subject.trial is not None
                  else f"Design {subject.name!r}"),
        "name": subject.name,
        "source": spec.source,
        "kind": spec.kind,
        "generated_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "warnings": list(subject.warnings),
        "params": {k: float(v) for k, v in params.items()},
        "device": {
            "incident": str(spec.incident), "exit": str(spec.exit),
            "light_trapping": spec.light_trapping, "angle_deg": spec.angle_deg, "spectrum": spectrum,
            "temperature_k": spec.temperature_k, "luminescent_coupling": spec.luminescent_coupling,
            "wavelengths_nm": [float(design.wavelengths()[0]), float(design.wavelengths()[-1]),
                               int(design.wavelengths().size)],
        },
        "layers": stack_rows(spec, design),
        "headline": headline,
        "derived": derived,
        "subcells": subcell_rows(spec, design, result),
        "photocurrent_ma_cm2": photocurrents(result, spectrum),
        "design_toml": specmod.dumps_toml(
            spec.fixed_raw(params),
            header=f"{data_title(subject)}\nrun it with: qdtandem simulate design.toml"),
        "study": None, "sensitivity": [],
    }
    if subject.trial is not None:
        rec = dict(subject.trial.user_attrs.get("metrics", {}))
        data["recorded"] = rec
        r_pce = rec.get("pce_pct", math.nan)
        data["recorded_agrees"] = bool(np.isfinite(r_pce) and abs(r_pce - result.pce_pct) <= 1e-6 * max(1, abs(r_pce)))
        if not data["recorded_agrees"]:
            data["warnings"].append(
                f"The study recorded PCE = {r_pce:.6f} % for this trial; evaluating the same design now "
                f"gives {result.pce_pct:.6f} %: the optical or device models changed since the study ran. "
                "This report shows the values computed now.")
        data["study"] = _study_data(subject)
        data["sensitivity"] = sensitivity(spec, params, tolerance_pct, bandgap_tolerance_ev)
        data["sensitivity_settings"] = {"tolerance_pct": tolerance_pct,
                                        "bandgap_tolerance_ev": bandgap_tolerance_ev}
    study_text = spec.text
    if subject.study is not None:
        study_text = subject.study.user_attrs.get("study_file_text", spec.text)
        if study_text != spec.text:
            data["warnings"].append(f"{spec.source} differs from the study file stored with the study; "
                                    "the reproducibility section shows the stored one.")
    data["reproducibility"] = {
        "versions": versions(),
        "file": spec.source,
        "file_text": study_text,
        "seed": data["study"]["seed"] if data["study"] else None,
        "sampler": data["study"]["sampler"] if data["study"] else None,
        "study_created_utc": data["study"]["created_utc"] if data["study"] else None,
        "study_last_run_utc": data["study"]["last_run_utc"] if data["study"] else None,
        "report_generated_utc": data["generated_utc"],
        "command": " ".join(["qdtandem"] + sys.argv[1:]) if Path(sys.argv[0]).name == "qdtandem" else None,
    }
    data["sections"] = section_ids(data)
    return data, design, result


def data_title(subject: Subject) -> str:
    if subject.trial is not None:
        return f"design of trial {subject.trial.number} of study {subject.name!r} ({subject.spec.source})"
    return f"design from {subject.spec.source}"


def section_ids(data: Mapping[str, Any]) -> list[str]:
    ids = ["summary", "stack", "headline", "optics", "eqe", "nk", "generation", "jv"]
    if data["headline"].get("cie_x") is not None and np.isfinite(data["headline"].get("cie_x", math.nan)):
        ids.append("colour")
    if data.get("study"):
        ids += ["history", "importances"]
        if data["study"]["multi_objective"]:
            ids.append("pareto")
        ids += ["top10", "sensitivity"]
    ids += ["design-file", "reproducibility"]
    return ids


# --------------------------------------------------------------------------- figures


@dataclass
class FigureOut:
    key: str
    title: str
    caption: str
    png: bytes


def transmitted_srgb(result) -> tuple[float, float, float]:
    """sRGB (0..1) of the transmitted light, white-balanced so that T = 1 is white.

    XYZ from the CIE 1931 xy of T x AM1.5G and Y = luminous (power-weighted photopic)
    transmittance; chromatically adapted (CAT02) from the AM1.5G white to D65.
    """
    import colour
    from tandem import transparency as tr

    o = result.optics
    wl = np.asarray(o.wavelengths_nm, dtype=float)
    x, y = result.cie_xy
    lum = float(tr.avt(o.T, wl, weighting="power")) / 100.0
    white = tr.chromaticity(np.ones_like(wl), wl)
    xyz = colour.xyY_to_XYZ(np.array([x, y, lum]))
    rgb = colour.XYZ_to_sRGB(xyz, illuminant=np.asarray(white, dtype=float))
    return tuple(float(c) for c in np.clip(rgb, 0, 1))


def make_figures(subject: Subject, data: Mapping[str, Any], design, result) -> list[FigureOut]:
    import optics

    from . import figures as fg

    out: list[FigureOut] = []

    def add(key, title, caption, fig):
        out.append(FigureOut(key, title, caption, fg.png_bytes(fig)))

    layers = data["layers"]
    spectrum = data["device"]["spectrum"]
    colours = fg.layer_colours([r["material"] for r in layers], [r["role"] for r in layers])
    add("stack", "Stack", "Layer sequence, light from the top. Thin films are drawn to one depth scale; "
        "thick incoherent layers (substrates, wafers) are drawn shortened with scale-break marks.",
        fg.stack_drawing([r["name"] for r in layers],
                         [r["material"] + (f", Eg {r['bandgap_ev']:.3f} eV" if np.isfinite(r["bandgap_ev"]) else "")
                          for r in layers],
                         [r["thickness_nm"] for r in layers], [r["role"] for r in layers],
                         spectrum=spectrum))

    o = result.optics
    wl = np.asarray(o.wavelengths_nm, dtype=float)
    pc = data["photocurrent_ma_cm2"]
    add("optics", "Reflectance, transmittance and absorptance per layer",
        "Stacked: the absorptance of every layer in stack order, then the transmittance and the reflectance "
        f"(they add up to 1). Each legend entry gives the {spectrum} photocurrent the part takes, in mA/cm^2."
        + (" Lambertian light trapping is applied to the absorber as in the device model." if
           design.light_trapping != "none" else ""),
        fg.rta_spectrum(wl, o.R, o.T, o.A, o.labels, pc["layers"], colours, pc["reflected"],
                        pc["transmitted"]))

    curves = [(f"{s['role']} ({s['absorber']}): Jph {s['jph_ma_cm2']:.2f} mA/cm$^2$",
               (result.top if i == 0 else result.bottom).eqe) for i, s in enumerate(data["subcells"])]
    add("eqe", "External quantum efficiency", "EQE = IQE x absorptance of each subcell's absorber.",
        fg.eqe_plot(wl, curves, 1.0 - o.R))

    mats, seen = [], set()
    for r, lay in zip(layers, design.stack.layers):
        label = r["material"] + (f" (Eg {r['bandgap_ev']:.3f} eV)" if np.isfinite(r["bandgap_ev"]) else "")
        if label in seen:
            continue
        seen.add(label)
        mats.append((label, optics.refractive_index(lay.material, wl, where=r["name"])))
    add("nk", "Optical constants", "n and k of every material in the stack on the optical grid "
        "(k on a log scale; k below 1e-5 drawn at 1e-5). Sources in the stack table.",
        fg.nk_plot(wl, mats))

    gm = generation_map_data(design, wl, spectrum=spectrum)
    add("generation", "Generation profile G(z, lambda)",
        f"Photon absorption rate per unit volume and wavelength under {spectrum} in the coherent layers "
        "(optics.absorption_profile of the planar stack"
        + (", without the light trapping of the absorber" if design.light_trapping != "none" else "")
        + "). Incoherent layers are not resolved and are drawn as narrow hatched bands; white lines are "
          "layer boundaries.",
        fg.generation_map(wl, gm["z_plot"], gm["g"], gm["boundaries"], spectrum))

    jv_curves, mpps = [], []
    for s, cell in zip(data["subcells"], (result.top, result.bottom)):
        label = f"{s['role']} subcell" if s["role"] != "cell" else "cell"
        jv_curves.append((label, cell.jv[0], cell.jv[1]))
        mpps.append((label, cell.vmpp_v, cell.jmpp_ma_cm2))
    if result.kind == "2T" and result.jv is not None:
        v_mpp = result.top.v_operating_v + result.bottom.v_operating_v
        jv_curves.append(("2T tandem", result.jv[0], result.jv[1]))
        mpps.append(("2T tandem", v_mpp, result.pce_pct / v_mpp))
    add("jv", "J-V curves", "Each subcell on its own J-V curve with its maximum power point"
        + ("; the 2T tandem curve is the series connection (voltages add at a common current)."
           if result.kind == "2T" else "."), fg.jv_plot(jv_curves, mpps, spectrum))

    if "colour" in data["sections"]:
        h = data["headline"]
        add("colour", "Transmitted colour",
            "Colour of AM1.5G daylight seen through the device, next to the unfiltered light.",
            fg.colour_swatch(transmitted_srgb(result), (h["cie_x"], h["cie_y"]), h["avt_pct"], h["cri"]))

    st = data.get("study")
    if st:
        hist = st["history"]
        m0 = st["objectives"][0]
        add("history", "Optimisation history", f"{m0} of every completed trial and the best feasible value so far.",
            fg.history_plot(np.array(hist["number"]), np.array(hist["value"]), np.array(hist["feasible"], bool),
                            metric_label(m0), st["directions"][0] == "maximize"))
        if st["importances"]:
            add("importances", "Parameter importances",
                "optuna parameter importances (PED-ANOVA) on the completed trials.",
                fg.importance_plot(st["importances"]))
        if st.get("pareto"):
            pa = st["pareto"]
            allp = np.array(pa["all"]).reshape(-1, 2)
            front = np.array(pa["front"]).reshape(-1, 2)
            bad = np.array(pa["infeasible"]).reshape(-1, 2)
            chosen = subject.trial.values
            add("pareto", "Pareto front", "Completed trials (crosses: violate a constraint) and the "
                "Pareto-optimal feasible designs.",
                fg.pareto_plot(allp[:, 1], allp[:, 0], front[:, 1], front[:, 0], metric_label(pa["metrics"][1]),
                               metric_label(pa["metrics"][0]), (chosen[1], chosen[0]), bad[:, 1], bad[:, 0]))
        sens = data["sensitivity"]
        for kind, xl in (("thickness_nm", "thickness change around the optimum (%)"),
                         ("bandgap_ev", "bandgap change around the optimum (meV)")):
            rows = [e for e in sens if e["parameter"].endswith("." + kind)]
            if rows:
                add(f"sensitivity_{kind.split('_')[0]}", "Sensitivity: " + ("thicknesses" if kind == "thickness_nm"
                                                                         else "bandgaps"),
                    "PCE with one free parameter moved, the others held at the reported design; open "
                    "markers violate a constraint of the study.",
                    fg.sensitivity_plot([(e["parameter"], np.array(e["x"]), np.array(e["pce_pct"]),
                                          np.array(e["feasible"], bool)) for e in rows],
                                        xl, optimum=data["headline"]["pce_pct"]))
    return out


_METRIC_NAMES = {
    "pce_pct": "PCE (%)", "avt_pct": "AVT (%)", "lue_pct": "LUE (%)",
    "top_jsc_ma_cm2": "top Jsc (mA/cm$^2$)", "bottom_jsc_ma_cm2": "bottom Jsc (mA/cm$^2$)",
    "mismatch_ma_cm2": "mismatch (mA/cm$^2$)", "abs_mismatch_ma_cm2": "|mismatch| (mA/cm$^2$)",
    "total_thickness_nm": "total thickness (nm)", "absorber_thickness_nm": "absorber thickness (nm)",
}


def metric_label(metric: str) -> str:
    """Axis/column label with units (matplotlib mathtext for ^2)."""
    if metric in _METRIC_NAMES:
        return _METRIC_NAMES[metric]
    units = {"pct": "%", "nm": "nm", "v": "V", "ma_cm2": "mA/cm$^2$", "ev": "eV"}
    for suffix, unit in units.items():
        if metric.endswith("_" + suffix):
            return f"{metric[: -len(suffix) - 1].replace('_', ' ')} ({unit})"
    return metric


def key_findings(data: Mapping[str, Any]) -> list[str]:
    """Short, actionable statements derived from the report's numbers."""
    out = []
    h = data["headline"]
    pc = data["photocurrent_ma_cm2"]
    avail = pc["available"]
    roles = {r["name"]: r["role"] for r in data["layers"]}
    parasitic = sorted(((v, k) for k, v in pc["layers"].items() if "absorber" not in (roles.get(k) or "")),
                       reverse=True)
    total_par = sum(v for v, _ in parasitic)
    if parasitic and parasitic[0][0] > 0:
        worst = ", ".join(f"{k} {v:.2f}" for v, k in parasitic[:3] if v >= 0.005)
        out.append(f"Parasitic absorption takes {total_par:.2f} mA/cm^2 ({100 * total_par / avail:.1f} % of the "
                   f"{pc['spectrum']} photons on {pc['wavelength_range_nm'][0]:g}-{pc['wavelength_range_nm'][1]:g} nm); "
                   f"largest: {worst} mA/cm^2.")
    out.append(f"Reflection loses {pc['reflected']:.2f} mA/cm^2 ({100 * pc['reflected'] / avail:.1f} %)"
               + (f"; {pc['transmitted']:.2f} mA/cm^2 is transmitted." if pc["transmitted"] >= 0.005 else "."))
    if data["kind"] in ("2T", "4T") and h.get("limiting"):
        mm = h["mismatch_ma_cm2"]
        extra = " (it sets the 2T current)" if data["kind"] == "2T" else ""
        out.append(f"The {h['limiting']} subcell has the lower photocurrent{extra}: top - bottom = {mm:+.2f} mA/cm^2.")
    if data["kind"] == "semitransparent" and np.isfinite(h.get("avt_pct", math.nan)):
        out.append(f"AVT {h['avt_pct']:.1f} % at PCE {h['pce_pct']:.2f} %: LUE {h['lue_pct']:.2f} %.")
    sens = [e for e in data.get("sensitivity") or [] if np.isfinite(e.get("max_drop_pct", math.nan))]
    if sens:
        e = max(sens, key=lambda e: e["max_drop_pct"])
        tol = data["sensitivity_settings"]
        rng = (f"+/- {tol['tolerance_pct']:g} %" if e["parameter"].endswith("thickness_nm")
               else f"{e['x'][0]:+.0f}..{e['x'][-1]:+.0f} meV")
        out.append(f"Most sensitive free parameter: {e['parameter']}: PCE drops by up to {e['max_drop_pct']:.2f} % "
                   f"absolute within {rng}.")
        single = data.get("study") and not data["study"]["multi_objective"]
        gain = [x for x in sens if single and np.nanmax(x["pce_pct"]) > x["pce_at_optimum_pct"] + 0.01]
        for x in gain:
            ok = [p for p, f in zip(x["pce_pct"], x["feasible"]) if f and np.isfinite(p)]
            if ok and max(ok) > x["pce_at_optimum_pct"] + 0.01:
                out.append(f"Moving {x['parameter']} raises PCE to {max(ok):.2f} % while meeting the study's "
                           "constraints: the study may not have converged (or the models changed since it ran).")
    return out


def generation_map_data(design, wl: np.ndarray, max_points: int = 700, spectrum: str = "AM1.5G"
                        ) -> dict[str, Any]:
    """G(z, lambda) in photons s^-1 cm^-3 nm^-1 on a depth axis where incoherent layers
    are collapsed to narrow bands; boundaries as (top, bottom, label, resolved) in drawn nm."""
    import optics
    stack = design.stack
    d = np.asarray(stack.thicknesses_nm, dtype=float)
    coh = np.asarray(stack.coherent, dtype=bool)
    coh_total = float(d[coh].sum()) or 1.0
    dz = max(0.5, coh_total / max_points)
    prof = optics.absorption_profile(stack, wl, dz_nm=dz, angle_deg=design.angle_deg)
    # a * Phi: nm^-1 (depth) x photons s^-1 m^-2 nm^-1 -> x1e7 (cm^-1) x1e-4 (cm^-2)
    g = prof.absorption * photon_flux(wl, spectrum)[None, :] * 1e3
    band = 0.06 * coh_total
    drawn = np.where(coh, d, band)
    drawn_top = np.concatenate([[0.0], np.cumsum(drawn)])
    true_top = np.asarray(prof.boundaries_nm, dtype=float)
    z_plot = drawn_top[prof.layer_index] + (prof.z_nm - true_top[prof.layer_index])
    boundaries = [(float(drawn_top[i]), float(drawn_top[i + 1]), stack.labels[i], bool(coh[i]))
                  for i in range(len(d)) if d[i] > 0]
    return {"z_plot": z_plot, "g": g, "boundaries": boundaries, "dz_nm": dz}


# --------------------------------------------------------------------------- rendering


def _num(x, fmt: str = ".2f") -> str:
    if x is None:
        return "-"
    if isinstance(x, (float, np.floating)) and not np.isfinite(x):
        return "-"
    return format(x, fmt) if isinstance(x, (int, float, np.number)) else str(x)


def headline_rows(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, metric key, formatted value) for the device-level headline numbers."""
    h = data["headline"]
    rows = [("PCE (%)", "pce_pct", _num(h["pce_pct"]))]
    if data["kind"] == "2T":
        rows += [("Voc (V)", "voc_v", _num(h["voc_v"], ".3f")),
                 ("Jsc (mA/cm^2)", "jsc_ma_cm2", _num(h["jsc_ma_cm2"])),
                 ("FF (%)", "ff_pct", _num(h["ff_pct"]))]
    if data["kind"] in ("2T", "4T"):
        rows += [("Current mismatch, top - bottom Jph (mA/cm^2)", "mismatch_ma_cm2", _num(h["mismatch_ma_cm2"])),
                 ("Current-limiting subcell", "limiting", str(h["limiting"]))]
    if np.isfinite(h.get("avt_pct", math.nan)):
        rows += [("AVT (%)", "avt_pct", _num(h["avt_pct"])), ("LUE (%)", "lue_pct", _num(h["lue_pct"])),
                 ("CIE 1931 x", "cie_x", _num(h["cie_x"], ".4f")), ("CIE 1931 y", "cie_y", _num(h["cie_y"], ".4f")),
                 ("CRI (Ra)", "cri", _num(h["cri"], ".1f"))]
    return rows


SUBCELL_COLUMNS = (("Jsc (mA/cm^2)", "jsc_ma_cm2", ".2f"), ("Jph (mA/cm^2)", "jph_ma_cm2", ".2f"),
                   ("Voc (V)", "voc_v", ".3f"), ("FF (%)", "ff_pct", ".2f"), ("PCE (%)", "pce_pct", ".2f"),
                   ("Vmpp (V)", "vmpp_v", ".3f"), ("Jmpp (mA/cm^2)", "jmpp_ma_cm2", ".2f"),
                   ("ERE", "ere", ".2e"))


def _stack_table(data) -> tuple[list[str], list[list[str]]]:
    head = ["#", "layer", "material", "thickness (nm)", "Eg (eV)", "coherent", "role", "n,k source",
            "measured / modelled"]
    rows = []
    for r in data["layers"]:
        thick = _num(r["thickness_nm"], ".1f") + (" *" if "thickness_nm" in r["free"] else "")
        eg = _num(r["bandgap_ev"], ".3f") + (" *" if "bandgap_ev" in r["free"] else "")
        src = r["nk_source"] + (f" (doi:{r['doi']})" if r["doi"] else "")
        rows.append([str(r["index"]), r["name"], r["material"], thick, eg if eg.strip() != "-" else "-",
                     "yes" if r["coherent"] else "no (incoherent)", r["role"] or "-", src, r["nk_kind"]])
    return head, rows


def _losses_table(data) -> tuple[list[str], list[list[str]]]:
    pc = data["photocurrent_ma_cm2"]
    avail = pc["available"]
    roles = {r["name"]: r["role"] for r in data["layers"]}
    head = ["where the photons go", "kind", "photocurrent (mA/cm^2)", "share of available (%)"]
    rows = []
    for lab, v in pc["layers"].items():
        kind = "absorbed in " + (roles.get(lab) or "") if "absorber" in (roles.get(lab) or "") else "parasitic absorption"
        rows.append([lab, kind, _num(v), _num(100 * v / avail, ".1f")])
    rows.append(["reflected", "reflection loss", _num(pc["reflected"]), _num(100 * pc["reflected"] / avail, ".1f")])
    rows.append(["transmitted", "transmission", _num(pc["transmitted"]), _num(100 * pc["transmitted"] / avail, ".1f")])
    total = sum(pc["layers"].values()) + pc["reflected"] + pc["transmitted"]
    lo, hi = pc["wavelength_range_nm"]
    rows.append([f"total ({pc['spectrum']} photons {lo:g}-{hi:g} nm: {avail:.2f})", "", _num(total), _num(100 * total / avail, ".1f")])
    return head, rows


def _top10_table(data) -> tuple[list[str], list[list[str]]]:
    st = data["study"]
    params = list(data["params"])
    mets = ["pce_pct", "top_jsc_ma_cm2", "bottom_jsc_ma_cm2", "mismatch_ma_cm2", "avt_pct"]
    mets = [m for m in mets if any(m in r["metrics"] for r in st["top10"])]
    extra = [o for o in st["objectives"] if o not in mets]
    head = ["rank", "trial"] + [metric_label(m).replace("$^2$", "^2") for m in mets + extra] + params
    if st["multi_objective"]:
        head.append("Pareto")
    rows = []
    for k, r in enumerate(st["top10"], 1):
        row = [str(k), str(r["trial"])]
        row += [_num(r["metrics"].get(m, r["objectives"].get(m))) for m in mets]
        row += [_num(r["objectives"][m]) for m in extra]
        row += [_num(r["params"][p], ".4g") for p in params]
        if st["multi_objective"]:
            row.append("yes" if r["pareto"] else "")
        rows.append(row)
    return head, rows


def _sensitivity_table(data) -> tuple[list[str], list[list[str]]]:
    s = data["sensitivity_settings"]
    with_avt = data["kind"] == "semitransparent"
    head = ["free parameter", "optimum", "range", "PCE at low end (%)", "PCE at high end (%)",
            "largest PCE drop in range (% abs.)"]
    if with_avt:
        head += ["AVT at low end (%)", "AVT at high end (%)"]
    head.append("points meeting the study constraints")
    rows = []
    for e in data["sensitivity"]:
        thick = e["parameter"].endswith(".thickness_nm")
        rng = f"+/- {s['tolerance_pct']:g} %" if thick else f"{e['x'][0]:+.0f} .. {e['x'][-1]:+.0f} meV"
        row = [e["parameter"], _num(e["optimum"], ".1f" if thick else ".3f"), rng,
               _num(e["pce_low_pct"]), _num(e["pce_high_pct"]), _num(e["max_drop_pct"])]
        if with_avt:
            row += [_num(e["avt_pct"][0]), _num(e["avt_pct"][-1])]
        row.append(f"{sum(e['feasible'])} of {len(e['feasible'])}")
        rows.append(row)
    return head, rows


def _model_table(data) -> tuple[list[str], list[list[str]]]:
    head = ["subcell", "preset", "ERE (input)", "Rs (ohm cm^2)", "Rsh (ohm cm^2)", "ideality", "IQE", "basis"]
    rows = []
    for s in data["subcells"]:
        m = s["model"]
        rows.append([s["role"], s["preset"], _num(m.get("ere"), ".2e"), _num(m.get("rs_ohm_cm2"), ".3g"),
                     _num(m.get("rsh_ohm_cm2"), ".4g"), _num(m.get("ideality"), ".2f"), _num(m.get("iqe"), ".2f"),
                     s["reference"]])
    return head, rows


def _subcell_table(data) -> tuple[list[str], list[list[str]]]:
    head = ["subcell", "absorber", "preset"] + [c[0] for c in SUBCELL_COLUMNS]
    rows = [[s["role"], s["absorber"], s["preset"]] + [_num(s[k], f) for _, k, f in SUBCELL_COLUMNS]
            for s in data["subcells"]]
    return head, rows


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:1150px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #c0392b;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.6em;overflow-x:auto;font-size:.8em}
.warn{background:#fdebd0;border-left:4px solid #e67e22;padding:.5em .8em;margin:.6em 0}
.big{font-size:1.3em;font-weight:600}
nav a{margin-right:.8em;font-size:.85em}
@media print{nav{display:none}section{break-inside:avoid-page}}
"""


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?( \*)?$")


NUM_TD = '<td class="num">'


def _html_table(head, rows) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = []
    for row in rows:
        cells = "".join((NUM_TD if _NUMBER.match(c) else "<td>") + html.escape(c) + "</td>" for c in row)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _md_table(head, rows) -> str:
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(esc(c) for c in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


SECTION_TITLES = {
    "summary": "Summary", "stack": "The stack", "headline": "Headline numbers",
    "optics": "Where the light goes", "eqe": "External quantum efficiency", "nk": "Optical constants",
    "generation": "Generation profile", "jv": "J-V curves", "colour": "Transmitted colour",
    "history": "Optimisation history", "importances": "Parameter importances", "pareto": "Pareto front",
    "top10": "Top 10 designs", "sensitivity": "Sensitivity around the optimum",
    "design-file": "The design as a simulate file", "reproducibility": "Reproducibility",
}


def _blocks(data, figs: Mapping[str, FigureOut]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """Report content, format-neutral: (section id, [(kind, payload)]), kind in
    p | warn | table | headline | figure | pre | list."""
    h = data["headline"]
    sec: dict[str, list[tuple[str, Any]]] = {k: [] for k in data["sections"]}
    summary = sec["summary"]
    for w in data["warnings"]:
        summary.append(("warn", w))
    what = {"2T": "two-terminal (monolithic) tandem", "4T": "four-terminal tandem",
            "semitransparent": "semitransparent single-junction cell", "single": "single-junction cell"}[data["kind"]]
    summary.append(("big", ("pce_pct", f"PCE {_num(h['pce_pct'])} %", f"{what}")))
    summary.append(("list", key_findings(data)))
    summary.append(("p", f"Source: {data['source']}. Generated {data['generated_utc']} with "
                         f"qdtandem {data['reproducibility']['versions'].get('qdtandem')}."))
    if data["study"]:
        st = data["study"]
        summary.append(("p", f"Study {st['name']!r} ({st['storage']}): {st['n_trials']} trials "
                             f"({', '.join(f'{n} {s}' for s, n in sorted(st['states'].items()))}), "
                             f"{st['n_feasible']} feasible; objectives {', '.join(st['objectives'])}; "
                             f"sampler {st['sampler']}, seed {st['seed']}. This report shows trial "
                             f"{st['chosen_trial']}" + (" (highest PCE on the Pareto front)." if st["multi_objective"]
                                                        else " (the best feasible design).")))
    dev = data["device"]
    sec["stack"].append(("p", f"Light enters from {dev['incident']} and exits into {dev['exit']}; "
                              f"light trapping: {dev['light_trapping']}; optical grid {dev['wavelengths_nm'][0]:g}-"
                              f"{dev['wavelengths_nm'][1]:g} nm ({dev['wavelengths_nm'][2]} points); "
                              f"{dev['temperature_k']:g} K. * = free parameter of the study."))
    sec["stack"].append(("table", _stack_table(data)))
    sec["stack"].append(("figure", "stack"))
    sec["headline"].append(("headline", headline_rows(data)))
    sec["headline"].append(("p", "Per subcell, each on its own J-V curve (Jsc: current at V = 0; Jph: "
                                 "photocurrent from the EQE):"))
    sec["headline"].append(("table", _subcell_table(data)))
    sec["headline"].append(("p", "Electrical model of each subcell (detailed balance from the computed EQE, "
                                 "with these non-radiative and resistive losses):"))
    sec["headline"].append(("table", _model_table(data)))
    if data.get("recorded"):
        rec = data["recorded"]
        sec["headline"].append(("p", f"Recorded in the study for this trial: PCE {_num(rec.get('pce_pct'), '.6f')} %; "
                                     f"computed now: {_num(h['pce_pct'], '.6f')} % "
                                     + ("(agree)." if data["recorded_agrees"] else "(differ: see the warning above).")))
    sec["optics"].append(("figure", "optics"))
    sec["optics"].append(("p", f"Photocurrent equivalent of each part ({data['device']['spectrum']}, IQE = 1), i.e. the parasitic "
                               "losses per layer:"))
    sec["optics"].append(("table", _losses_table(data)))
    for key in ("eqe", "nk", "generation", "jv", "colour"):
        if key in sec:
            sec[key].append(("figure", key))
    if data["study"]:
        sec["history"].append(("figure", "history"))
        if "importances" in figs:
            imp = data["study"]["importances"]
            sec["importances"].append(("figure", "importances"))
            for m, d in imp.items():
                sec["importances"].append(("table", (["parameter", f"importance for {m}"],
                                                     [[k, _num(v, ".3f")] for k, v in
                                                      sorted(d.items(), key=lambda kv: -kv[1])])))
        else:
            sec["importances"].append(("p", "Not available: optuna needs at least 4 completed trials and a "
                                            "parameter that varies."))
        if "pareto" in sec:
            sec["pareto"].append(("figure", "pareto"))
            sec["pareto"].append(("p", f"{len(data['study']['pareto']['front'])} Pareto-optimal designs; "
                                       f"trials {', '.join(map(str, data['study']['pareto']['front_trials'][:40]))}."))
        sec["top10"].append(("p", "Feasible completed trials ranked by the first objective "
                                  f"({data['study']['objectives'][0]}), as recorded in the study:"))
        sec["top10"].append(("table", _top10_table(data)))
        sec["sensitivity"].append(("p", "How much PCE changes when one free parameter misses its target "
                                        "(fabrication tolerance), the others at the reported design:"))
        sec["sensitivity"].append(("table", _sensitivity_table(data)))
        for key in ("sensitivity_thickness", "sensitivity_bandgap"):
            if key in figs:
                sec["sensitivity"].append(("figure", key))
    sec["design-file"].append(("p", "Save as design.toml (also written beside this report) and run "
                                    "`qdtandem simulate design.toml` to reproduce the numbers."))
    sec["design-file"].append(("pre", data["design_toml"]))
    rep = data["reproducibility"]
    items = [f"report generated: {rep['report_generated_utc']}"]
    if rep["study_created_utc"]:
        items.append(f"study created: {rep['study_created_utc']}; last run: {rep['study_last_run_utc']}")
    if data["study"]:
        items.append(f"seed: {rep['seed']}; sampler: {rep['sampler']}")
    if rep["command"]:
        items.append(f"command: {rep['command']}")
    items += [f"{k}: {v}" for k, v in rep["versions"].items()]
    sec["reproducibility"].append(("list", items))
    sec["reproducibility"].append(("p", f"The {'study' if data['study'] else 'simulate'} file ({rep['file']}):"))
    sec["reproducibility"].append(("pre", rep["file_text"]))
    return [(k, sec[k]) for k in data["sections"]]


def render_html(data: Mapping[str, Any], figs: Mapping[str, FigureOut]) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(data['title'])}</title>", f"<style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(data['title'])}</h1>", "<nav>"]
    parts += [f'<a href="#{k}">{html.escape(SECTION_TITLES[k])}</a>' for k in data["sections"]]
    parts.append("</nav>")
    for sid, blocks in _blocks(data, figs):
        parts.append(f'<section id="{sid}"><h2>{html.escape(SECTION_TITLES[sid])}</h2>')
        for kind, payload in blocks:
            if kind == "p":
                parts.append(f"<p>{html.escape(payload)}</p>")
            elif kind == "warn":
                parts.append(f'<p class="warn">{html.escape(payload)}</p>')
            elif kind == "big":
                key, text, sub = payload
                parts.append(f'<p class="big" data-metric="{key}" data-value="{data["headline"][key]!r}">'
                             f"{html.escape(text)}</p><p>{html.escape(sub)}</p>")
            elif kind == "headline":
                rows = "".join(f'<tr><th>{html.escape(lab)}</th><td class="num" data-metric="{key}">'
                               f"{html.escape(val)}</td></tr>" for lab, key, val in payload)
                parts.append(f"<table>{rows}</table>")
            elif kind == "table":
                parts.append(_html_table(*payload))
            elif kind == "figure":
                f = figs.get(payload)
                if f is not None:
                    b64 = base64.b64encode(f.png).decode("ascii")
                    parts.append(f'<figure id="fig-{f.key}"><img alt="{html.escape(f.title)}" '
                                 f'src="data:image/png;base64,{b64}"><figcaption>{html.escape(f.caption)}'
                                 "</figcaption></figure>")
            elif kind == "pre":
                parts.append(f"<pre>{html.escape(payload)}</pre>")
            elif kind == "list":
                parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in payload) + "</ul>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(data: Mapping[str, Any], figs: Mapping[str, FigureOut], fig_dir: str = "figures") -> str:
    lines = [f"# {data['title']}", ""]
    for sid, blocks in _blocks(data, figs):
        lines += [f'<a id="{sid}"></a>', f"## {SECTION_TITLES[sid]}", ""]
        for kind, payload in blocks:
            if kind == "p":
                lines += [payload, ""]
            elif kind == "warn":
                lines += [f"> **Warning:** {payload}", ""]
            elif kind == "big":
                lines += [f"**{payload[1]}** ({payload[2]})", ""]
            elif kind == "headline":
                lines += [_md_table(["quantity", "value"], [[lab, val] for lab, _, val in payload]), ""]
            elif kind == "table":
                lines += [_md_table(*payload), ""]
            elif kind == "figure":
                f = figs.get(payload)
                if f is not None:
                    lines += [f"![{f.title}]({fig_dir}/{f.key}.png)", "", f"*{f.caption}*", ""]
            elif kind == "pre":
                lines += ["```toml", payload.rstrip("\n"), "```", ""]
            elif kind == "list":
                lines += [f"- {x}" for x in payload] + [""]
    return "\n".join(lines)


def _json_safe(x):
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


# --------------------------------------------------------------------------- entry point


@dataclass
class ReportOutput:
    data: dict[str, Any]
    files: dict[str, Path]
    figures: list[FigureOut]


def write_report(path: str | Path | None = None, *, storage: str | None = None, study_name: str | None = None,
                 trial: int | None = None, out_dir: str | Path | None = None, tolerance_pct: float = 10.0,
                 bandgap_tolerance_ev: float = 0.05) -> ReportOutput:
    """Build the report and write report.html, report.md (+ figures/), report.json, design.toml."""
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
    files["json"].write_text(json.dumps(_json_safe(data), indent=1, allow_nan=False), encoding="utf-8")
    files["design"] = out / "design.toml"
    files["design"].write_text(data["design_toml"], encoding="utf-8")
    files["figures"] = fig_dir
    return ReportOutput(data, files, figs)
