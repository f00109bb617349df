"""The report as HTML (self-contained) and Markdown, from the report data and figures.

Each section has one block function returning format-neutral blocks ``(kind, payload)``;
``render_html`` and ``render_markdown`` turn the same blocks into either format, so the two
always say the same thing. A new section adds a title to ``SECTION_TITLES`` and a block
function to ``BLOCKS``, keyed by its id.
"""
from __future__ import annotations

import base64
import html
import math
import re
from typing import Any, Callable, Mapping

import numpy as np

from .figures import FigureOut, metric_label
from .findings import key_findings, scan_range


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
                 (cri_label(data), "cri", _num(h["cri"], ".1f"))]
    return rows


def cri_label(data: Mapping[str, Any]) -> str:
    """The CRI row's label, naming the test light and the reference illuminant."""
    c = data.get("colour")
    if not c:
        return "CRI (Ra, CIE 13.3)"
    return f"CRI (Ra, CIE 13.3): {c['test_light']} vs. {c['label']}"


SUBCELL_COLUMNS = (("Jsc (mA/cm^2)", "jsc_ma_cm2", ".2f"), ("Jph (mA/cm^2)", "jph_ma_cm2", ".2f"),
                   ("Voc (V)", "voc_v", ".3f"), ("FF (%)", "ff_pct", ".2f"), ("PCE (%)", "pce_pct", ".2f"),
                   ("Vmpp (V)", "vmpp_v", ".3f"), ("Jmpp (mA/cm^2)", "jmpp_ma_cm2", ".2f"),
                   ("ERE", "ere", ".2e"))


def _stack_table(data) -> tuple[list[str], list[list[str]]]:
    head = ["#", "layer", "material", "thickness (nm)", "Eg (eV)", "coherent", "role", "n,k source",
            "measured / modelled"]
    rows = []
    at = {b["parameter"]: b["side"] for b in data.get("at_bounds") or []}

    def mark(r, what):
        key = f"{r['name']}.{what}"
        if what not in r["free"]:
            return ""
        return f" * (at {at[key]} bound)" if key in at else " *"

    for r in data["layers"]:
        thick = _num(r["thickness_nm"], ".1f") + mark(r, "thickness_nm")
        eg = _num(r["bandgap_ev"], ".3f") + mark(r, "bandgap_ev")
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
    for sc in data.get("subcells") or []:
        loss = sc.get("collection_loss_ma_cm2")
        if loss is not None and np.isfinite(loss) and sc.get("collection") != "ideal":
            rows.append([f"  of which not collected in {sc['absorber']}", "collection loss (recombination)",
                         _num(loss), _num(100 * loss / avail, ".1f")])
    tex = data["device"].get("texture")
    if tex:  # textured wafer: what the front reflects, and what entered the wafer and escaped
        for lab, kind, v in (("reflected at the front", "reflection loss (first incidence)",
                              tex["reflected_front_ma_cm2"]),
                             ("escaped from the wafer", "escape loss (entered, left through the front)",
                              tex["escaped_ma_cm2"])):
            rows.append([lab, kind, _num(v), _num(100 * v / avail, ".1f")])
    else:
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
    with_avt = data["kind"] == "semitransparent"
    head = ["free parameter", "optimum", "range", "PCE at low end (%)", "PCE at high end (%)",
            "largest PCE drop in range (% abs.)"]
    if with_avt:
        head += ["AVT at low end (%)", "AVT at high end (%)"]
    head.append("points meeting the study constraints")
    rows = []
    for e in data["sensitivity"]:
        thick = e["parameter"].endswith(".thickness_nm")
        rng = scan_range(e)
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
    "summary": "Summary", "stack": "The stack", "texture": "Textured wafer", "headline": "Headline numbers",
    "optics": "Where the light goes", "eqe": "External quantum efficiency", "nk": "Optical constants",
    "generation": "Generation profile", "jv": "J-V curves", "colour": "Transmitted colour",
    "history": "Optimisation history", "importances": "Parameter importances", "pareto": "Pareto front",
    "top10": "Top 10 designs", "sensitivity": "Sensitivity around the optimum",
    "design-file": "The design as a simulate file", "reproducibility": "Reproducibility",
    "energy-yield": "Annual energy yield", "collection": "Carrier collection",
}


Block = tuple[str, Any]   # (kind, payload), kind in p | warn | big | table | headline | figure | pre | list


def summary_blocks(data, figs) -> list[Block]:
    h = data["headline"]
    out: list[Block] = [("warn", w) for w in data["warnings"]]
    what = {"2T": "two-terminal (monolithic) tandem", "4T": "four-terminal tandem",
            "semitransparent": "semitransparent single-junction cell", "single": "single-junction cell"}[data["kind"]]
    out.append(("big", ("pce_pct", f"PCE {_num(h['pce_pct'])} %", f"{what}")))
    out.append(("list", key_findings(data)))
    out.append(("p", f"Source: {data['source']}. Generated {data['generated_utc']} with "
                     f"qdtandem {data['reproducibility']['versions'].get('qdtandem')}."))
    if data["study"]:
        st = data["study"]
        out.append(("p", f"Study {st['name']!r} ({st['storage']}): {st['n_trials']} trials "
                         f"({', '.join(f'{n} {s}' for s, n in sorted(st['states'].items()))}), "
                         f"{st['n_feasible']} feasible; objectives {', '.join(st['objectives'])}; "
                         f"sampler {st['sampler']}, seed {st['seed']}. This report shows trial "
                         f"{st['chosen_trial']}" + (" (highest PCE on the Pareto front)." if st["multi_objective"]
                                                    else " (the best feasible design).")))
    return out


def stack_blocks(data, figs) -> list[Block]:
    dev = data["device"]
    starred = any(r["free"] for r in data["layers"])
    return [("p", f"Light enters from {dev['incident']} and exits into {dev['exit']}; "
                  f"light trapping: {dev['light_trapping']}; optical grid {dev['wavelengths_nm'][0]:g}-"
                  f"{dev['wavelengths_nm'][1]:g} nm ({dev['wavelengths_nm'][2]} points); "
                  f"{dev['temperature_k']:g} K." + (" * = free parameter of the study." if starred else "")),
            ("table", _stack_table(data)), ("figure", "stack")]


def texture_blocks(data, figs) -> list[Block]:
    tex = data["device"]["texture"]
    return [("p", f"Light trapping by pyramids: front {tex['front'].replace('_', ' ')}, rear "
                  f"{tex['rear'].replace('_', ' ')}, facets at {tex['facet_deg']:g} deg; every film conformal. "
                  f"Of the reflection, {_num(tex['reflected_front_ma_cm2'])} mA/cm^2 is reflected at the front on "
                  f"first incidence and {_num(tex['escaped_ma_cm2'])} mA/cm^2 entered the wafer and escaped."),
            ("figure", "texture")]


def headline_blocks(data, figs) -> list[Block]:
    h = data["headline"]
    out: list[Block] = [
        ("headline", headline_rows(data)),
        ("p", "Per subcell, each on its own J-V curve (Jsc: current at V = 0; Jph: photocurrent from the EQE):"),
        ("table", _subcell_table(data)),
        ("p", "Electrical model of each subcell (detailed balance from the computed EQE, "
              "with these non-radiative and resistive losses):"),
        ("table", _model_table(data))]
    if data.get("recorded"):
        rec = data["recorded"]
        out.append(("p", f"Recorded in the study for this trial: PCE {_num(rec.get('pce_pct'), '.6f')} %; "
                         f"computed now: {_num(h['pce_pct'], '.6f')} % "
                         + ("(agree)." if data["recorded_agrees"] else "(differ: see the warning above).")))
    return out


def optics_blocks(data, figs) -> list[Block]:
    return [("figure", "optics"),
            ("p", f"Photocurrent equivalent of each part ({data['device']['spectrum']}, IQE = 1), i.e. the "
                  "parasitic losses per layer:"),
            ("table", _losses_table(data))]


def _figure_only(key: str) -> Callable[[Any, Any], list[Block]]:
    return lambda data, figs: [("figure", key)]


def collection_blocks(data, figs) -> list[Block]:
    out: list[Block] = [("figure", "collection")]
    items = []
    for sc in data["subcells"]:
        if sc.get("collection") == "ideal":
            items.append(f"{sc['absorber']}: ideal collection (every absorbed photon counted).")
            continue
        lost = sc["collection_loss_ma_cm2"]
        share = 100 * lost / sc["jph_ideal_ma_cm2"] if sc["jph_ideal_ma_cm2"] > 0 else math.nan
        items.append(f"{sc['absorber']}: {_num(lost)} mA/cm^2 of the {_num(sc['jph_ideal_ma_cm2'])} mA/cm^2 "
                     f"absorbed is not collected at short circuit ({_num(share, '.1f')} %).")
    out.append(("list", items))
    return out


def importances_blocks(data, figs) -> list[Block]:
    if "importances" not in figs:
        return [("p", "Not available: optuna needs at least 4 completed trials and a parameter that varies.")]
    out: list[Block] = [("figure", "importances")]
    for m, d in data["study"]["importances"].items():
        out.append(("table", (["parameter", f"importance for {m}"],
                              [[k, _num(v, ".3f")] for k, v in sorted(d.items(), key=lambda kv: -kv[1])])))
    return out


def pareto_blocks(data, figs) -> list[Block]:
    pa = data["study"]["pareto"]
    return [("figure", "pareto"),
            ("p", f"{len(pa['front'])} Pareto-optimal designs; trials {', '.join(map(str, pa['front_trials'][:40]))}.")]


def top10_blocks(data, figs) -> list[Block]:
    return [("p", "Feasible completed trials ranked by the first objective "
                  f"({data['study']['objectives'][0]}), as recorded in the study:"),
            ("table", _top10_table(data))]


def sensitivity_blocks(data, figs) -> list[Block]:
    out: list[Block] = [("p", "How much PCE changes when one free parameter misses its target "
                              "(fabrication tolerance), the others at the reported design. Every scan stays "
                              "inside the study's bounds of its parameter:"),
                        ("table", _sensitivity_table(data))]
    out += [("figure", key) for key in ("sensitivity_thickness", "sensitivity_bandgap") if key in figs]
    return out


def design_file_blocks(data, figs) -> list[Block]:
    return [("p", "Save as design.toml (also written beside this report) and run "
                  "`qdtandem simulate design.toml` to reproduce the numbers."),
            ("pre", data["design_toml"])]


def reproducibility_blocks(data, figs) -> list[Block]:
    rep = data["reproducibility"]
    items = [f"report generated: {rep['report_generated_utc']}"]
    if rep["study_created_utc"]:
        items.append(f"study created: {rep['study_created_utc']}; last run: {rep['study_last_run_utc']}")
    if data["study"]:
        items.append(f"seed: {rep['seed']}; sampler: {rep['sampler']}")
    if rep["command"]:
        items.append(f"command: {rep['command']}")
    items += [f"{k}: {v}" for k, v in rep["versions"].items()]
    return [("list", items),
            ("p", f"The {'study' if data['study'] else 'simulate'} file ({rep['file']}):"),
            ("pre", rep["file_text"])]


#: section id -> block function (data, figures by key) -> [(kind, payload)]
BLOCKS: dict[str, Callable[[Any, Mapping[str, FigureOut]], list[Block]]] = {
    "summary": summary_blocks, "stack": stack_blocks, "texture": texture_blocks, "headline": headline_blocks,
    "optics": optics_blocks,
    "eqe": _figure_only("eqe"), "collection": collection_blocks, "nk": _figure_only("nk"), "generation": _figure_only("generation"),
    "jv": _figure_only("jv"), "colour": _figure_only("colour"),
    "history": _figure_only("history"), "importances": importances_blocks, "pareto": pareto_blocks,
    "top10": top10_blocks, "sensitivity": sensitivity_blocks,
    "design-file": design_file_blocks, "reproducibility": reproducibility_blocks,
    "energy-yield": lambda data, figs: _energy_yield_blocks(data, figs),
}


def _energy_yield_blocks(data, figs) -> list[Block]:
    from .energy_yield import blocks

    return blocks(data, figs)


def _blocks(data, figs: Mapping[str, FigureOut]) -> list[tuple[str, list[Block]]]:
    """Report content, format-neutral: (section id, [(kind, payload)]) in section order."""
    return [(sid, BLOCKS[sid](data, figs)) for sid in data["sections"]]


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


def json_safe(x):
    """``x`` with numpy scalars as Python ones and NaN/inf as None, for json.dumps(allow_nan=False)."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x

