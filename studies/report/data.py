"""The report's numbers: one JSON-able dict built from ``tandem.evaluate`` of the design.

Nothing here re-derives device physics: subcell and device figures come from the
``DeviceResult``; photocurrents of each layer, of the reflected and of the transmitted light
are ``optics.spectra.jsc`` (the quadrature the device model uses) of the optics of that
result; G(z, lambda) is ``optics.spectral_generation`` of the stack's absorption profile.

Adding a report section: put its numbers in ``build_data`` (or a function it calls), add
its id to ``section_ids``, then a figure function in ``figures.FIGURES`` and a block
function in ``render.BLOCKS`` keyed by the same id.
"""
from __future__ import annotations

import datetime as _dt
import math
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from optics.spectra import jsc

from ..simulate_file import dumps_toml
from .load import Subject
from .study import parameters_at_bounds, sensitivity, study_data

JV_POINTS = 301
_VERSION_PACKAGES = ("qdtandem", "numpy", "scipy", "pandas", "matplotlib", "optuna", "tmm",
                     "colour-science", "pvlib", "SQLAlchemy")



def _f(x) -> float:
    return float(x) if x is not None else math.nan


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
            "coherent": bool(lay.coherent), "role": spec.layer_role(i),
            "category": getattr(mat, "category", None),
            "free": [k.split(".", 1)[1] for k in free if k.split(".", 1)[0] == lay.name],
            "nk_source": source, "nk_kind": kind, "doi": doi, "licence": licence,
        })
    return rows


def photocurrents(result, spectrum: str = "AM1.5G") -> dict[str, Any]:
    """Where the photons go, as photocurrents: absorbed per layer, reflected and transmitted.

    Parameters
    ----------
    result : tandem.DeviceResult
        Its ``optics`` (R, T [W] and A [L, W] on ``wavelengths_nm``) are integrated.
    spectrum : str, default "AM1.5G"
        A spectrum name of ``optics.spectra.spectrum_table``.

    Returns
    -------
    dict
        ``layers`` {label: mA/cm^2}, ``reflected``, ``transmitted`` and ``available`` (every
        photon on the optical grid) in mA/cm^2, IQE = 1, by ``optics.spectra.jsc``;
        ``wavelength_range_nm`` and ``spectrum``. Absorbed + reflected + transmitted equals
        ``available`` to the optics' energy conservation.
    """
    o = result.optics
    wl = np.asarray(o.wavelengths_nm, dtype=float)
    parts = np.vstack([np.asarray(o.A, dtype=float), o.R, o.T, np.ones_like(wl)])
    cur = np.atleast_1d(jsc(np.clip(parts, 0, None), wl, spectrum=spectrum))
    return {
        "layers": {lab: float(v) for lab, v in zip(o.labels, cur[:-3])},
        "reflected": float(cur[-3]),
        "transmitted": float(cur[-2]),
        "available": float(cur[-1]),
        "wavelength_range_nm": [float(wl[0]), float(wl[-1])],
        "spectrum": spectrum,
    }


def subcell_rows(spec, design, result) -> list[dict[str, Any]]:
    """Per subcell: its J-V figures of merit and the electrical model behind them."""
    from tandem.presets import get_preset

    rows = []
    for role, sub, cell in (("top", design.top, result.top), ("bottom", design.bottom, result.bottom)):
        if cell is None or sub is None:
            continue
        preset = get_preset(sub.preset)
        model = dict(sub.parameters) if hasattr(sub, "parameters") else {}
        rows.append({
            "role": role if design.bottom is not None else "cell",
            "absorber": spec.layers[sub.absorber].name, "preset": sub.preset,
            "jsc_ma_cm2": cell.jsc_ma_cm2, "jph_ma_cm2": cell.jph_ma_cm2, "voc_v": cell.voc_v,
            "ff_pct": cell.ff_pct, "pce_pct": cell.pce_pct, "vmpp_v": cell.vmpp_v,
            "jmpp_ma_cm2": cell.jmpp_ma_cm2, "ere": cell.ere, "voc_rad_v": cell.voc_rad_v,
            "v_operating_v": cell.v_operating_v,
            "jph_ideal_ma_cm2": cell.jph_ideal_ma_cm2,
            "collection_loss_ma_cm2": cell.jph_ideal_ma_cm2 - cell.jph_ma_cm2,
            "collection": sub.collection if cell.collection_pct is not None else "ideal",
            "collection_pct": None if cell.collection_pct is None else [float(x) for x in cell.collection_pct],
            "z_rel": None if cell.z_rel is None else [float(x) for x in cell.z_rel],
            "model": {**{k: float(v) for k, v in model.items()}, "iqe": float(sub.iqe)},
            "reference": getattr(preset, "reference", ""),
        })
    return rows


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
    commit = _git_commit(Path(__file__).resolve().parents[2])
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


def texture_data(design, spectrum: str = "AM1.5G") -> dict[str, Any] | None:
    """The texture of a "pyramids" design and its reflection split: light reflected on first
    incidence and light that entered the wafer and escaped (photocurrent, mA/cm^2)."""
    if design.light_trapping != "pyramids":
        return None
    from tandem.evaluation import solve_optics

    wl = design.wavelengths()
    tr = solve_optics([design], wl).textured
    cur = np.atleast_1d(jsc(np.clip(np.vstack([tr.R_front, tr.R_escape]), 0, None), wl, spectrum=spectrum))
    tex = design.texture
    return {"front": tex.front.kind, "rear": tex.rear.kind, "facet_deg": float(tex.front.facet_deg),
            "wafer": int(tr.wafer), "reflected_front_ma_cm2": float(cur[0]), "escaped_ma_cm2": float(cur[1])}


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
            "texture": texture_data(design, spectrum),
        },
        "layers": stack_rows(spec, design),
        "headline": headline,
        "derived": derived,
        "subcells": subcell_rows(spec, design, result),
        "photocurrent_ma_cm2": photocurrents(result, spectrum),
        "design_toml": dumps_toml(
            spec.fixed_raw(params),
            header=f"{data_title(subject)}\nrun it with: qdtandem simulate design.toml"),
        "study": None, "sensitivity": [], "at_bounds": [],
        "colour": cri_reference(result.cie_xy) if result.cie_xy is not None else None,
    }
    from .energy_yield import yield_data
    data["energy_yield"] = yield_data(subject, design)
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
        data["study"] = study_data(subject)
        data["sensitivity"] = sensitivity(spec, params, tolerance_pct, bandgap_tolerance_ev)
        data["at_bounds"] = parameters_at_bounds(spec, params)
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
    if any(sc.get("collection_pct") for sc in data.get("subcells") or []):
        ids.insert(ids.index("eqe") + 1, "collection")
    if (data.get("device") or {}).get("texture"):
        ids.insert(2, "texture")
    if data["headline"].get("cie_x") is not None and np.isfinite(data["headline"].get("cie_x", math.nan)):
        ids.append("colour")
    if data.get("study"):
        ids += ["history", "importances"]
        if data["study"]["multi_objective"]:
            ids.append("pareto")
        ids += ["top10", "sensitivity"]
    if data.get("energy_yield"):
        ids.append("energy-yield")
    ids += ["design-file", "reproducibility"]
    return ids



def generation_map_data(design, wl: np.ndarray, max_points: int = 700, spectrum: str = "AM1.5G"
                        ) -> dict[str, Any]:
    """G(z, lambda) of the planar stack, on a depth axis with incoherent layers drawn narrow.

    Parameters
    ----------
    design : tandem.Design
    wl : ndarray, shape [W]
        Wavelengths, nm (strictly increasing).
    max_points : int, default 700
        Depth points over the coherent layers (cells of at least 0.5 nm).
    spectrum : str, default "AM1.5G"
        Illumination (a name of ``optics.spectra.spectrum_table``).

    Returns
    -------
    dict
        ``g`` [Z, W]: photons absorbed s^-1 cm^-3 nm^-1 (``optics.spectral_generation``); ``z_plot`` [Z]: drawn depth, nm, with each incoherent
        layer collapsed to a band of 6 % of the coherent thickness; ``boundaries``: (top,
        bottom, label, resolved) per layer in drawn nm; ``dz_nm``: the profile step.
    """
    import optics
    stack = design.stack
    d = np.asarray(stack.thicknesses_nm, dtype=float)
    coh = np.asarray(stack.coherent, dtype=bool)
    coh_total = float(d[coh].sum()) or 1.0
    dz = max(0.5, coh_total / max_points)
    prof = optics.absorption_profile(stack, wl, dz_nm=dz, angle_deg=design.angle_deg)
    g = optics.spectral_generation(prof, spectrum)
    band = 0.06 * coh_total
    drawn = np.where(coh, d, band)
    drawn_top = np.concatenate([[0.0], np.cumsum(drawn)])
    true_top = np.asarray(prof.boundaries_nm, dtype=float)
    z_plot = drawn_top[prof.layer_index] + (prof.z_nm - true_top[prof.layer_index])
    boundaries = [(float(drawn_top[i]), float(drawn_top[i + 1]), stack.labels[i], bool(coh[i]))
                  for i in range(len(d)) if d[i] > 0]
    return {"z_plot": z_plot, "g": g, "boundaries": boundaries, "dz_nm": dz}


def cri_reference(cie_xy) -> dict[str, Any] | None:
    """What the colour rendering index compares against (CIE 13.3-1995, as colour-science
    computes it): the test light is AM1.5G through the device; the reference illuminant is a
    Planckian radiator below 5000 K and CIE daylight (D series) from 5000 K, at the test light's
    correlated colour temperature (Robertson 1968, from its CIE 1960 uv)."""
    import colour

    xy = np.asarray(cie_xy, dtype=float)
    if not np.all(np.isfinite(xy)):
        return None
    cct = float(colour.temperature.uv_to_CCT_Robertson1968(colour.xy_to_UCS_uv(xy))[0])
    ref = "Planckian radiator" if cct < 5000 else "CIE daylight (D series)"
    return {"test_light": "AM1.5G through the device", "cct_k": cct, "reference_illuminant": ref,
            "label": f"{ref} at {cct:.0f} K"}
