"""The report's figures: one function per section, each turning the report data (and the
evaluated design) into ``FigureOut`` PNGs with the drawing primitives of ``plots``.

``FIGURES`` maps a section id to its function; ``make_figures`` calls the ones of the
sections the report has. A new section adds one function here, keyed by its id.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from . import plots as fg
from .load import Subject


@dataclass(frozen=True)
class FigureOut:
    """One rendered figure: ``key`` names the PNG file (figures/<key>.png)."""

    key: str
    title: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class FigureContext:
    """What a figure function may draw from: the report data, the design and its DeviceResult."""

    subject: Subject
    data: Mapping[str, Any]
    design: Any          # tandem.Design
    result: Any          # tandem.DeviceResult


def _out(key: str, title: str, caption: str, fig) -> FigureOut:
    return FigureOut(key, title, caption, fg.png_bytes(fig))


def _layer_colours(data) -> list[str]:
    layers = data["layers"]
    return fg.layer_colours([r["material"] for r in layers], [r["role"] for r in layers])


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


# --------------------------------------------------------------------------- device sections


def stack_figures(ctx: FigureContext) -> list[FigureOut]:
    layers = ctx.data["layers"]
    return [_out("stack", "Stack", "Layer sequence, light from the top. Thin films are drawn to one depth scale; "
                 "thick incoherent layers (substrates, wafers) are drawn shortened with scale-break marks.",
                 fg.stack_drawing([r["name"] for r in layers],
                                  [r["material"] + (f", Eg {r['bandgap_ev']:.3f} eV" if np.isfinite(r["bandgap_ev"])
                                                    else "") for r in layers],
                                  [r["thickness_nm"] for r in layers], [r["role"] for r in layers],
                                  spectrum=ctx.data["device"]["spectrum"]))]


def texture_figures(ctx: FigureContext) -> list[FigureOut]:
    tex = ctx.data["device"]["texture"]
    layers = ctx.data["layers"]
    return [_out("texture", "Textured wafer", "Cross-section (schematic, not to scale) of the pyramid texture: the "
                 "films above the wafer lie conformally on the front pyramids, those below it on the rear "
                 "pyramids. The optics ray-trace the facets with the thin-film stack on each (optics.redistribution).",
                 fg.texture_drawing([r["name"] for r in layers], [r["material"] for r in layers],
                                    [r["role"] for r in layers], tex["wafer"], tex["front"], tex["rear"],
                                    tex["facet_deg"]))]


def optics_figures(ctx: FigureContext) -> list[FigureOut]:
    o = ctx.result.optics
    wl = np.asarray(o.wavelengths_nm, dtype=float)
    pc = ctx.data["photocurrent_ma_cm2"]
    spectrum = ctx.data["device"]["spectrum"]
    return [_out("optics", "Reflectance, transmittance and absorptance per layer",
                 "Stacked: the absorptance of every layer in stack order, then the transmittance and the reflectance "
                 f"(they add up to 1). Each legend entry gives the {spectrum} photocurrent the part takes, in "
                 "mA/cm^2." + (" Lambertian light trapping is applied to the absorber as in the device model." if
                               ctx.design.light_trapping != "none" else ""),
                 fg.rta_spectrum(wl, o.R, o.T, o.A, o.labels, pc["layers"], _layer_colours(ctx.data),
                                 pc["reflected"], pc["transmitted"]))]


def eqe_figures(ctx: FigureContext) -> list[FigureOut]:
    o = ctx.result.optics
    wl = np.asarray(o.wavelengths_nm, dtype=float)
    curves = [(f"{s['role']} ({s['absorber']}): Jph {s['jph_ma_cm2']:.2f} mA/cm$^2$",
               (ctx.result.top if i == 0 else ctx.result.bottom).eqe) for i, s in enumerate(ctx.data["subcells"])]
    return [_out("eqe", "External quantum efficiency", "EQE = IQE x absorptance of each subcell's absorber.",
                 fg.eqe_plot(wl, curves, 1.0 - o.R))]


def collection_figures(ctx: FigureContext) -> list[FigureOut]:
    wl = np.asarray(ctx.result.optics.wavelengths_nm, dtype=float)
    profiles, eqes = [], []
    for i, s in enumerate(ctx.data["subcells"]):
        cell = ctx.result.top if i == 0 else ctx.result.bottom
        label = f"{s['role']} ({s['absorber']})"
        eqes.append((label, cell.eqe, cell.eqe_ideal if cell.eqe_ideal is not None else cell.eqe))
        if cell.collection_pct is not None:
            profiles.append((label, cell.z_rel, cell.collection_pct))
    return [_out("collection", "Carrier collection",
                 "Collection efficiency over each absorber at short circuit (tandem.collection: drift and "
                 "diffusion in the built-in field, SRH and interface recombination) and the EQE it leaves.",
                 fg.collection_plot(wl, profiles, eqes))]


def nk_figures(ctx: FigureContext) -> list[FigureOut]:
    import optics

    wl = np.asarray(ctx.result.optics.wavelengths_nm, dtype=float)
    mats, seen = [], set()
    for r, lay in zip(ctx.data["layers"], ctx.design.stack.layers):
        label = r["material"] + (f" (Eg {r['bandgap_ev']:.3f} eV)" if np.isfinite(r["bandgap_ev"]) else "")
        if label in seen:
            continue
        seen.add(label)
        mats.append((label, optics.refractive_index(lay.material, wl, where=r["name"])))
    return [_out("nk", "Optical constants", "n and k of every material in the stack on the optical grid "
                 "(k on a log scale; k below 1e-5 drawn at 1e-5). Sources in the stack table.",
                 fg.nk_plot(wl, mats))]


def generation_figures(ctx: FigureContext) -> list[FigureOut]:
    from .data import generation_map_data

    wl = np.asarray(ctx.result.optics.wavelengths_nm, dtype=float)
    spectrum = ctx.data["device"]["spectrum"]
    gm = generation_map_data(ctx.design, wl, spectrum=spectrum)
    return [_out("generation", "Generation profile G(z, lambda)",
                 f"Photon absorption rate per unit volume and wavelength under {spectrum} in the coherent layers "
                 "(optics.absorption_profile of the planar stack"
                 + (", without the light trapping of the absorber" if ctx.design.light_trapping != "none" else "")
                 + "). Incoherent layers are not resolved and are drawn as narrow hatched bands; white lines are "
                   "layer boundaries.",
                 fg.generation_map(wl, gm["z_plot"], gm["g"], gm["boundaries"], spectrum))]


def jv_figures(ctx: FigureContext) -> list[FigureOut]:
    result = ctx.result
    jv_curves, mpps = [], []
    for s, cell in zip(ctx.data["subcells"], (result.top, result.bottom)):
        label = f"{s['role']} subcell" if s["role"] != "cell" else "cell"
        jv_curves.append((label, cell.jv[0], cell.jv[1]))
        mpps.append((label, cell.vmpp_v, cell.jmpp_ma_cm2))
    if result.kind == "2T" and result.jv is not None:
        v_mpp = result.top.v_operating_v + result.bottom.v_operating_v
        jv_curves.append(("2T tandem", result.jv[0], result.jv[1]))
        mpps.append(("2T tandem", v_mpp, result.pce_pct / v_mpp))
    return [_out("jv", "J-V curves", "Each subcell on its own J-V curve with its maximum power point"
                 + ("; the 2T tandem curve is the series connection (voltages add at a common current)."
                    if result.kind == "2T" else "."), fg.jv_plot(jv_curves, mpps, ctx.data["device"]["spectrum"]))]


def colour_figures(ctx: FigureContext) -> list[FigureOut]:
    h = ctx.data["headline"]
    return [_out("colour", "Transmitted colour",
                 "Colour of AM1.5G daylight seen through the device, next to the unfiltered light.",
                 fg.colour_swatch(transmitted_srgb(ctx.result), (h["cie_x"], h["cie_y"]), h["avt_pct"], h["cri"]))]


# --------------------------------------------------------------------------- study sections


def history_figures(ctx: FigureContext) -> list[FigureOut]:
    st = ctx.data["study"]
    hist = st["history"]
    m0 = st["objectives"][0]
    return [_out("history", "Optimisation history", f"{m0} of every completed trial and the best feasible value so far.",
                 fg.history_plot(np.array(hist["number"]), np.array(hist["value"]), np.array(hist["feasible"], bool),
                                 metric_label(m0), st["directions"][0] == "maximize"))]


def importances_figures(ctx: FigureContext) -> list[FigureOut]:
    imp = ctx.data["study"]["importances"]
    if not imp:
        return []
    return [_out("importances", "Parameter importances",
                 "optuna parameter importances (PED-ANOVA) on the completed trials.", fg.importance_plot(imp))]


def pareto_figures(ctx: FigureContext) -> list[FigureOut]:
    pa = ctx.data["study"]["pareto"]
    allp = np.array(pa["all"]).reshape(-1, 2)
    front = np.array(pa["front"]).reshape(-1, 2)
    bad = np.array(pa["infeasible"]).reshape(-1, 2)
    chosen = ctx.subject.trial.values
    return [_out("pareto", "Pareto front", "Completed trials (crosses: violate a constraint) and the "
                 "Pareto-optimal feasible designs.",
                 fg.pareto_plot(allp[:, 1], allp[:, 0], front[:, 1], front[:, 0], metric_label(pa["metrics"][1]),
                                metric_label(pa["metrics"][0]), (chosen[1], chosen[0]), bad[:, 1], bad[:, 0]))]


def sensitivity_figures(ctx: FigureContext) -> list[FigureOut]:
    out = []
    sens = ctx.data["sensitivity"]
    for kind, xl in (("thickness_nm", "thickness change around the optimum (%)"),
                     ("bandgap_ev", "bandgap change around the optimum (meV)")):
        rows = [e for e in sens if e["parameter"].endswith("." + kind)]
        if rows:
            out.append(_out(f"sensitivity_{kind.split('_')[0]}",
                            "Sensitivity: " + ("thicknesses" if kind == "thickness_nm" else "bandgaps"),
                            "PCE with one free parameter moved inside the study's bounds, the others held at the "
                            "reported design; open markers violate a constraint of the study.",
                            fg.sensitivity_plot([(e["parameter"], np.array(e["x"]), np.array(e["pce_pct"]),
                                                  np.array(e["feasible"], bool)) for e in rows],
                                                xl, optimum=ctx.data["headline"]["pce_pct"])))
    return out


#: section id -> figure function; sections without an entry have no figure
def _energy_yield_figures(ctx: FigureContext) -> list[FigureOut]:
    from .energy_yield import figures

    return figures(ctx)


FIGURES: dict[str, Callable[[FigureContext], list[FigureOut]]] = {
    "stack": stack_figures, "texture": texture_figures, "optics": optics_figures, "eqe": eqe_figures, "collection": collection_figures,
    "nk": nk_figures,
    "generation": generation_figures, "jv": jv_figures, "colour": colour_figures,
    "history": history_figures, "importances": importances_figures, "pareto": pareto_figures,
    "sensitivity": sensitivity_figures, "energy-yield": _energy_yield_figures,
}


def make_figures(subject: Subject, data: Mapping[str, Any], design, result) -> list[FigureOut]:
    """Every figure of the report's sections, in section order."""
    ctx = FigureContext(subject, data, design, result)
    out: list[FigureOut] = []
    for sid in data["sections"]:
        fn = FIGURES.get(sid)
        if fn is not None:
            out += fn(ctx)
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
