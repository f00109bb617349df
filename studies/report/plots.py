"""Report figures (matplotlib, no pyplot state): pure functions from numpy arrays to Figures.

Every function returns a ``matplotlib.figure.Figure`` drawn with the Agg canvas, so figures
can be made in any thread and without a display; ``png_bytes`` renders one to PNG.
Units: wavelengths and depths in nm, current densities in mA/cm^2, voltages in V, PCE in %.
"""
from __future__ import annotations

import io
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

DPI = 110

#: fill colours of the subcell absorbers; other layers get one palette colour per material
ABSORBER_COLOURS = {"top absorber": "#c0392b", "absorber": "#c0392b", "bottom absorber": "#2e4053"}
_PALETTE = ["#f7dc6f", "#7fb3d5", "#76d7c4", "#d7bde2", "#f0b27a", "#a9dfbf", "#b3b6b7", "#f5b7b1",
            "#aed6f1", "#d4ac0d", "#48c9b0", "#bb8fce", "#dc7633", "#85929e", "#f8c471", "#82e0aa"]


_MARGINS = dict(left=0.11, right=0.97, bottom=0.13, top=0.91)


def new_figure(width_in: float = 7.0, height_in: float = 4.0, **margins) -> Figure:
    """A Figure on the Agg canvas with fixed margins (fractions of the figure).

    Fixed margins instead of a layout engine: constrained layout doubled the drawing time.
    """
    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(**{**_MARGINS, **margins})
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    # no "Software" text chunk: it carries a URL, and the PNGs should not vary with the install
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def layer_colours(materials: Sequence[str], roles: Sequence[str]) -> list[str]:
    """Fill colours: fixed ones for the subcell absorbers, one palette colour per other material."""
    by_material: dict[str, str] = {}
    out = []
    for mat, role in zip(materials, roles):
        if role in ABSORBER_COLOURS:
            out.append(ABSORBER_COLOURS[role])
            continue
        if mat not in by_material:
            by_material[mat] = _PALETTE[len(by_material) % len(_PALETTE)]
        out.append(by_material[mat])
    return out


# --------------------------------------------------------------------------- device


#: x of the leader lines' bend and end, in units of the drawn stack width (the stack spans 0..1)
LEADER_X = (1.1, 1.16)


def stack_drawing(names: Sequence[str], materials: Sequence[str], thicknesses_nm: Sequence[float],
                  roles: Sequence[str],
                  thick_nm: float | None = None, spectrum: str = "AM1.5G") -> Figure:
    """Cross-section of the stack, light from the top, thin films drawn to one depth scale.

    Layers thicker than ``thick_nm`` (default: 3x the summed thickness of the thinner layers,
    at least 2 um) - glass substrates and wafers - are drawn as a fixed-height band with
    scale-break marks and their real thickness written on them.
    """
    d = np.asarray(thicknesses_nm, dtype=float)
    if thick_nm is None:
        thin_total = d[d < 2000.0].sum()
        thick_nm = max(2000.0, 3.0 * thin_total)
    broken = d > thick_nm
    thin_total = float(d[~broken].sum()) or 1.0
    band = 0.18 * thin_total            # drawn height of a broken (thick) layer
    heights = np.where(broken, band, d)
    fig = new_figure(7.0, 0.9 + 0.28 * len(d) + 2.0, left=0.06, right=0.99, bottom=0.02, top=0.93)
    ax = fig.add_subplot()
    tops = np.concatenate([[0.0], np.cumsum(heights)])
    y = float(tops[-1])
    # labels evenly spaced down the side (thin layers would overlap), leader lines to the layer
    colours = layer_colours(materials, roles)
    label_y = np.linspace(0, y, len(d) + 2)[1:-1] if len(d) > 1 else np.array([y / 2])
    for i in range(len(d)):
        top, h = tops[i], heights[i]
        ax.add_patch(Rectangle((0, top), 1.0, h, facecolor=colours[i],
                               edgecolor="k", linewidth=0.6))
        if broken[i]:
            xs = np.linspace(-0.05, 1.05, 23)
            for frac in (0.35, 0.65):
                ax.plot(xs, top + frac * h + 0.012 * thin_total * (-1) ** np.arange(xs.size),
                        color="k", linewidth=0.8, clip_on=False)
        thick = f"{d[i] / 1000:.4g} um" if d[i] >= 1000 else f"{d[i]:.4g} nm"
        text = f"{names[i]} ({materials[i]}), {thick}"
        if broken[i]:
            text += "  [not to scale]"
        if roles[i]:
            text += f"  <- {roles[i]}"
        # leader: a slanted segment from the layer's middle to its label's height, then a level
        # one; both ends keep stack order, so no two leaders cross
        ax.plot([1.0, LEADER_X[0], LEADER_X[1]], [top + h / 2, label_y[i], label_y[i]], color="0.4",
                linewidth=0.5, clip_on=False, gid="leader")
        ax.text(LEADER_X[1] + 0.02, label_y[i], text, va="center", ha="left", fontsize=8)
    ax.set_xlim(-0.1, 3.2)
    ax.set_ylim(y + 0.03 * thin_total, -0.12 * thin_total)
    ax.annotate(f"light ({spectrum})", xy=(0.5, 0), xytext=(0.5, -0.11 * thin_total), ha="center",
                fontsize=8, arrowprops=dict(arrowstyle="->", color="goldenrod", linewidth=1.5))
    ax.set_xticks([])
    ax.set_ylabel("depth of thin films (nm, to scale)")
    ax.spines[["top", "right", "bottom"]].set_visible(False)
    if broken.any():
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        bar = _nice_length(thin_total / 4)
        ax.plot([-0.06, -0.06], [y - bar, y], color="k", linewidth=2, clip_on=False)
        ax.text(-0.08, y - bar / 2, f"{bar:g} nm", rotation=90, ha="right", va="center", fontsize=8)
        ax.set_ylabel("")
    ax.set_title("Stack cross-section (thin films to scale)")
    return fig


def _nice_length(x: float) -> float:
    e = 10 ** np.floor(np.log10(max(x, 1e-9)))
    for m in (5, 2, 1):
        if m * e <= x:
            return float(m * e)
    return float(e)


def rta_spectrum(wl: np.ndarray, R: np.ndarray, T: np.ndarray, A: np.ndarray, labels: Sequence[str],
                 currents_ma_cm2: Mapping[str, float], colours: Sequence[str],
                 r_ma_cm2: float, t_ma_cm2: float) -> Figure:
    """Stacked area: A of every layer (stack order), then T and R, summing to 1.

    Each legend entry gives the photocurrent (mA/cm^2, under the device's spectrum) that the part takes.
    """
    fig = new_figure(8.0, 4.6, left=0.09, right=0.7)
    ax = fig.add_subplot()
    parts = [A[i] for i in range(A.shape[0])] + [T, R]
    names = [f"{lab}: {currents_ma_cm2[lab]:.2f} mA/cm$^2$" for lab in labels]
    names += [f"transmitted: {t_ma_cm2:.2f} mA/cm$^2$", f"reflected: {r_ma_cm2:.2f} mA/cm$^2$"]
    cols = list(colours) + ["#fdebd0", "#ffffff"]
    ax.stackplot(wl, np.clip(np.vstack(parts), 0, None), labels=names, colors=cols,
                 edgecolor="0.3", linewidth=0.3)
    ax.set_xlim(wl[0], wl[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("fraction of incident light (-)")
    ax.set_title("Where the light goes: absorptance per layer, transmittance, reflectance")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    return fig


def eqe_plot(wl: np.ndarray, curves: Sequence[tuple[str, np.ndarray]], one_minus_r: np.ndarray) -> Figure:
    fig = new_figure(7.0, 3.8)
    ax = fig.add_subplot()
    for (label, e), c in zip(curves, ("#c0392b", "#2e4053", "#117a65")):
        ax.plot(wl, 100 * e, label=label, color=c, linewidth=1.8)
    if len(curves) > 1:
        ax.plot(wl, 100 * sum(e for _, e in curves), color="0.4", linewidth=1, label="sum of subcells")
    ax.plot(wl, 100 * one_minus_r, color="0.6", linestyle=":", label="1 - R")
    ax.set_xlim(wl[0], wl[-1])
    ax.set_ylim(0, 105)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("EQE (%)")
    ax.set_title("External quantum efficiency")
    ax.legend(fontsize=8)
    return fig


def collection_plot(wl: np.ndarray, profiles: Sequence[tuple[str, np.ndarray, np.ndarray]],
                    eqes: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> Figure:
    """Left: collection efficiency eta_c (%) over the absorber depth (0 = light side); right: EQE
    with (solid) and without (dashed) collection loss, per subcell."""
    fig = new_figure(8.0, 3.6)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    colours = ("#c0392b", "#2e4053", "#117a65")
    for (label, z, eta), c in zip(profiles, colours):
        ax1.plot(z, eta, color=c, linewidth=1.8, label=label)
    ax1.set_xlim(0, 1)
    ax1.set_ylim(0, 105)
    ax1.set_xlabel("depth in the absorber, z / d (0 = light side)")
    ax1.set_ylabel("collection efficiency (%)")
    ax1.legend(fontsize=8)
    for (label, e, ideal), c in zip(eqes, colours):
        ax2.plot(wl, 100 * ideal, color=c, linestyle="--", linewidth=1.0)
        ax2.plot(wl, 100 * e, color=c, linewidth=1.8, label=label)
    ax2.set_xlim(wl[0], wl[-1])
    ax2.set_ylim(0, 105)
    ax2.set_xlabel("wavelength (nm)")
    ax2.set_ylabel("EQE (%)")
    ax2.set_title("solid: collected; dashed: every absorbed photon", fontsize=9)
    return fig


def nk_plot(wl: np.ndarray, materials: Sequence[tuple[str, np.ndarray]]) -> Figure:
    """n (left) and k (right, log scale; k < 1e-5 drawn at 1e-5) of every material used."""
    fig = new_figure(9.0, 4.0, left=0.07, right=0.78, wspace=0.3)
    axn, axk = fig.subplots(1, 2)
    for i, (label, nk) in enumerate(materials):
        c = f"C{i % 10}"
        ls = "-" if i < 10 else "--"
        axn.plot(wl, nk.real, color=c, linestyle=ls, label=label)
        axk.plot(wl, np.clip(nk.imag, 1e-5, None), color=c, linestyle=ls, label=label)
    for ax in (axn, axk):
        ax.set_xlabel("wavelength (nm)")
        ax.set_xlim(wl[0], wl[-1])
    axn.set_ylabel("refractive index n (-)")
    axk.set_ylabel("extinction coefficient k (-)")
    axk.set_yscale("log")
    axk.set_ylim(1e-5, None)
    axn.set_title("n")
    axk.set_title("k")
    axk.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def generation_map(wl: np.ndarray, z_plot: np.ndarray, g: np.ndarray,
                   boundaries: Sequence[tuple[float, float, str, bool]], spectrum: str = "AM1.5G") -> Figure:
    """G(z, lambda) heat map (photons s^-1 cm^-3 nm^-1).

    z_plot [Z]: drawn depth (nm, with incoherent layers collapsed to narrow bands);
    g [Z, W]; boundaries: (top, bottom, label, resolved) of every layer on the drawn axis.
    """
    fig = new_figure(8.0, 5.0, left=0.1, right=0.86)
    ax = fig.add_subplot()
    vmax = float(np.nanpercentile(g, 99.5)) if g.size else 1.0
    m = ax.pcolormesh(wl, z_plot, g, shading="nearest", cmap="inferno", vmin=0, vmax=vmax or 1.0,
                      rasterized=True)
    cb = fig.colorbar(m, ax=ax, pad=0.2, fraction=0.05)
    cb.set_label("G (photons s$^{-1}$ cm$^{-3}$ nm$^{-1}$)")
    for top, bottom, label, resolved in boundaries:
        ax.axhline(top, color="w", linewidth=0.5, alpha=0.8)
        if not resolved:
            ax.add_patch(Rectangle((wl[0], top), wl[-1] - wl[0], bottom - top, facecolor="0.75",
                                   edgecolor="none", hatch="//", alpha=0.9))
        if bottom - top > 0.025 * (z_plot.max() - z_plot.min() + 1):
            ax.text(wl[-1], 0.5 * (top + bottom), " " + label, va="center", ha="left", fontsize=7,
                    color="k", clip_on=False)
    if boundaries:
        ax.axhline(boundaries[-1][1], color="w", linewidth=0.5, alpha=0.8)
        ax.set_ylim(boundaries[-1][1], boundaries[0][0])
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("depth in the coherent layers (nm)")
    ax.set_title(f"Generation rate G(z, $\\lambda$) under {spectrum} (hatched: incoherent, not resolved)")
    return fig


def jv_plot(curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
            mpps: Sequence[tuple[str, float, float]], spectrum: str = "AM1.5G") -> Figure:
    fig = new_figure(7.0, 4.2)
    ax = fig.add_subplot()
    colours = {}
    for i, (label, v, j) in enumerate(curves):
        colours[label] = f"C{i}"
        ax.plot(v, j, color=f"C{i}", label=label, linewidth=1.8)
    for label, v, j in mpps:
        ax.plot([v], [j], "o", color=colours.get(label, "k"), markersize=7, markeredgecolor="k")
        ax.annotate(f"MPP {v:.3f} V, {j:.2f} mA/cm$^2$", (v, j), textcoords="offset points",
                    xytext=(-8, -14), ha="right", fontsize=7)
    top = max(float(np.max(j)) for _, _, j in curves) if curves else 1.0
    ax.set_ylim(0, 1.08 * top)
    ax.set_xlim(0, None)
    ax.set_xlabel("voltage (V)")
    ax.set_ylabel("current density (mA/cm$^2$)")
    ax.set_title(f"J-V under {spectrum}, maximum power points")
    ax.legend(fontsize=8, loc="lower left")
    return fig


def colour_swatch(rgb: Sequence[float], xy: tuple[float, float], avt_pct: float, cri: float) -> Figure:
    fig = new_figure(5.0, 2.2, left=0.02, right=0.98, bottom=0.02, top=0.88)
    ax = fig.add_subplot()
    ax.add_patch(Rectangle((0, 0), 1, 1, facecolor=to_rgba(tuple(float(c) for c in rgb)), edgecolor="k"))
    ax.add_patch(Rectangle((1.15, 0), 1, 1, facecolor="white", edgecolor="k"))
    ax.text(0.5, -0.12, "transmitted light", ha="center", va="top", fontsize=8)
    ax.text(1.65, -0.12, "AM1.5G white (no device)", ha="center", va="top", fontsize=8)
    cri_s = "n/a" if not np.isfinite(cri) else f"{cri:.1f}"
    ax.text(2.35, 0.5, f"CIE 1931 x = {xy[0]:.4f}\nCIE 1931 y = {xy[1]:.4f}\nAVT = {avt_pct:.2f} %\n"
                       f"CRI (Ra) = {cri_s}", va="center", fontsize=9)
    ax.set_xlim(-0.05, 3.6)
    ax.set_ylim(-0.35, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Colour of the transmitted light (sRGB, white-balanced to AM1.5G)", fontsize=9)
    return fig


# --------------------------------------------------------------------------- study


def history_plot(numbers: np.ndarray, values: np.ndarray, feasible: np.ndarray, metric_label: str,
                 maximise: bool = True) -> Figure:
    """Objective per trial (feasible: filled, infeasible: crosses) and the best feasible so far."""
    fig = new_figure(7.0, 3.8)
    ax = fig.add_subplot()
    ax.plot(numbers[feasible], values[feasible], "o", markersize=3.5, color="C0", label="feasible trial")
    if np.any(~feasible):
        ax.plot(numbers[~feasible], values[~feasible], "x", markersize=4, color="C3",
                label="violates a constraint")
    best = np.full(values.shape, np.nan)
    cur = np.nan
    for k in range(values.size):
        if feasible[k] and np.isfinite(values[k]):
            if not np.isfinite(cur) or (values[k] > cur if maximise else values[k] < cur):
                cur = values[k]
        best[k] = cur
    ax.step(numbers, best, where="post", color="k", linewidth=1.5, label="best feasible so far")
    ax.set_xlabel("trial number")
    ax.set_ylabel(metric_label)
    ax.set_title("Optimisation history")
    ax.legend(fontsize=8)
    return fig


def importance_plot(importances: Mapping[str, Mapping[str, float]]) -> Figure:
    """Horizontal bars of optuna parameter importances, one panel (row) per objective."""
    n = max(1, len(importances))
    n_par = max((len(v) for v in importances.values()), default=1)
    panel_in = 0.7 + 0.35 * n_par
    height = n * panel_in + 0.3
    fig = new_figure(7.0, height, left=2.6 / 7.0, right=0.96, bottom=0.55 / height,
                     top=1 - 0.35 / height, hspace=0.9 / panel_in)
    axes = np.atleast_1d(fig.subplots(n, 1))
    for ax, (metric, imp) in zip(axes, importances.items()):
        items = sorted(imp.items(), key=lambda kv: kv[1])
        ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
        ax.set_title(f"Parameter importances (optuna) for {metric}", fontsize=9)
        ax.set_xlim(0, 1)
    axes[-1].set_xlabel("importance (normalised to sum 1, -)")
    return fig


def pareto_plot(x_all: np.ndarray, y_all: np.ndarray, x_front: np.ndarray, y_front: np.ndarray,
                x_label: str, y_label: str, chosen: tuple[float, float] | None = None,
                x_bad: np.ndarray | None = None, y_bad: np.ndarray | None = None) -> Figure:
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    if x_bad is not None and len(x_bad):
        ax.plot(x_bad, y_bad, "x", color="C3", alpha=0.5, markersize=4, label="violates a constraint")
    ax.plot(x_all, y_all, ".", color="0.5", label="feasible trials")
    order = np.argsort(x_front)
    ax.plot(x_front[order], y_front[order], "o-", color="C3", markersize=4, label="Pareto front")
    if chosen is not None:
        ax.plot([chosen[0]], [chosen[1]], "*", color="k", markersize=12, label="design in this report")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title("Pareto front")
    ax.legend(fontsize=8)
    return fig


def sensitivity_plot(curves: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], x_label: str,
                     y_label: str = "PCE (%)", optimum: float | None = None) -> Figure:
    """PCE against the change of each free parameter around the optimum.

    curves: (label, x, PCE, feasible) - points that violate a study constraint are drawn open.
    """
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    any_bad = False
    for i, (label, x, y, ok) in enumerate(curves):
        ok = np.asarray(ok, dtype=bool)
        ax.plot(x, y, "-", color=f"C{i}", label=label)
        ax.plot(x[ok], y[ok], "o", color=f"C{i}", markersize=4)
        ax.plot(x[~ok], y[~ok], "o", color=f"C{i}", markersize=5, markerfacecolor="white")
        any_bad |= bool(np.any(~ok))
    if any_bad:
        ax.plot([], [], "o", color="0.3", markerfacecolor="white", label="violates a study constraint")
    if optimum is not None:
        ax.axhline(optimum, color="k", linewidth=0.7, linestyle=":")
    ax.axvline(0, color="k", linewidth=0.7, linestyle=":")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title("Sensitivity around the optimum (fabrication tolerance)")
    ax.legend(fontsize=8)
    return fig


def texture_drawing(names: Sequence[str], materials: Sequence[str], roles: Sequence[str], wafer: int,
                    front: str, rear: str, facet_deg: float) -> Figure:
    """Cross-section of a pyramid-textured wafer (not to scale): the films above the wafer drawn
    conformal on the front texture, the films below it on the rear texture, light from the top.

    front, rear : texture kinds ("random_upright", "regular_upright", "regular_inverted", "planar").
    """
    colours = layer_colours(materials, roles)
    t = np.tan(np.radians(facet_deg))
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 8.0, 801)

    def profile(kind):
        if kind == "planar":
            return np.zeros_like(x)
        if kind.startswith("regular"):
            saw = t * (0.5 - np.abs(np.mod(x, 1.0) - 0.5))
            return saw if kind.endswith("upright") else -saw
        peaks = np.cumsum(rng.uniform(0.45, 0.9, 18)) - 0.3
        heights = rng.uniform(0.3, 0.6, 18) * t
        return np.max([h - t * np.abs(x - c) for c, h in zip(peaks, heights)] + [np.zeros_like(x)], axis=0)

    fig = new_figure(7.0, 3.6, left=0.02, right=0.7, bottom=0.03, top=0.92)
    ax = fig.add_subplot()
    film = 0.09  # drawn thickness of every thin film (not to scale)
    top_surface = 2.0 + profile(front)
    bottom_surface = -profile(rear)  # rear pyramids point out of the wafer (down)
    ax.fill_between(x, bottom_surface, top_surface, color=colours[wafer], lw=0.6, ec="k")
    y_lab = []
    edge = top_surface
    for i in range(wafer - 1, -1, -1):  # films above the wafer, stacked outwards
        ax.fill_between(x, edge, edge + film, color=colours[i], lw=0.4, ec="k")
        y_lab.append((i, float(np.median(edge)) + film / 2))
        edge = edge + film
    edge = bottom_surface
    for i in range(wafer + 1, len(names)):
        ax.fill_between(x, edge - film, edge, color=colours[i], lw=0.4, ec="k")
        y_lab.append((i, float(np.median(edge)) - film / 2))
        edge = edge - film
    y_lab.append((wafer, 1.0))
    order = sorted(y_lab, key=lambda p: -p[1])
    lo, hi = float(edge.min()) - 0.1, float(top_surface.max()) + film * wafer + 0.6
    slots = np.linspace(hi - 0.4, lo + 0.2, len(order))
    for (i, y), ys in zip(order, slots):
        ax.annotate(f"{names[i]} ({materials[i]})", xy=(8.0, y), xytext=(8.4, ys), fontsize=7,
                    va="center", annotation_clip=False,
                    arrowprops=dict(arrowstyle="-", lw=0.4, color="0.4"))
    for xa in (1.5, 4.0, 6.5):
        ax.annotate("", xy=(xa, float(top_surface.max()) + film * wafer + 0.05), xytext=(xa, hi),
                    arrowprops=dict(arrowstyle="->", color="#d4a017", lw=1.2))
    ax.set_xlim(0, 8.0)
    ax.set_ylim(lo, hi)
    ax.set_axis_off()
    ax.set_title(f"Textured wafer (schematic): front {front.replace('_', ' ')}, rear {rear.replace('_', ' ')}, "
                 f"facets {facet_deg:g} deg", fontsize=8)
    return fig
