"""qdtandem report: sections, numbers equal to the tandem API, offline HTML, clear errors."""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest

import optics
import tandem
from studies import report as rep
from studies import run as runmod
from studies.cli import main
from studies.storage import safe_url
from studies.spec import load

EXAMPLES = Path(__file__).resolve().parents[1] / "studies" / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COARSE_GRID = {"start": 300, "stop": 1200, "step": 20}


def _example(study_file, base: str, tmp: Path, name: str, max_mismatch: float | None = None, **study) -> Path:
    """A study file from ``base`` on the coarse optical grid, optionally with |mismatch| <= max_mismatch."""
    if max_mismatch is not None:
        study["constraints"] = [{"metric": "abs_mismatch_ma_cm2", "max": max_mismatch}]
    return study_file(tmp, name, base, device={"wavelengths_nm": dict(COARSE_GRID)}, **study)


def _run(path: Path) -> str:
    spec = load(path)
    # SQLite beside the file (the default before the journal; found by default when alone)
    res = runmod.run_study(spec, storage=str(path.with_suffix(".db")))
    assert res.storage_url.startswith("sqlite:///") and runmod.storage_url(spec) == res.storage_url
    return res.storage_url


@pytest.fixture(scope="module")
def quick_study(study_file, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quick")
    path = _example(study_file, "quick.toml", tmp, "q", max_mismatch=6.0, n_trials=12, batch_size=12, seed=5)
    url = _run(path)
    out = rep.write_report(path, out_dir=tmp / "report")
    return path, url, out


@pytest.fixture(scope="module")
def window_study(study_file, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("window")
    path = _example(study_file, "cspbi3qd_window_st.toml", tmp, "w", n_trials=16, batch_size=8, seed=2,
                    sampler_options={"population_size": 8})
    _run(path)
    out = rep.write_report(path, out_dir=tmp / "report")
    return path, out


@pytest.fixture(scope="module")
def simulate_report(design_file, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sim")
    path = design_file(tmp, "design", device={"wavelengths_nm": dict(COARSE_GRID)})
    return path, rep.write_report(path, out_dir=tmp / "report")


def _same(a, b) -> bool:
    """Report JSON value (NaN written as null) equals a tandem float."""
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None
    return a == b


def _check_headline_equals_tandem(out, design):
    ref = tandem.evaluate(design)
    stored = json.loads(out.files["json"].read_text())
    for k, v in ref.to_dict().items():
        assert _same(stored["headline"][k], v), k
    assert stored["headline"]["limiting"] == ref.limiting
    cells = [ref.top] + ([ref.bottom] if ref.bottom is not None else [])
    assert len(stored["subcells"]) == len(cells)
    for row, cell in zip(stored["subcells"], cells):
        for k in ("jsc_ma_cm2", "jph_ma_cm2", "voc_v", "ff_pct", "pce_pct", "vmpp_v", "jmpp_ma_cm2"):
            assert row[k] == getattr(cell, k), k
    # the HTML shows the same numbers, rounded as printed
    page = out.files["html"].read_text()
    shown = dict(re.findall(r'<td class="num" data-metric="([a-z_0-9]+)">([^<]*)</td>', page))
    assert float(shown["pce_pct"]) == pytest.approx(ref.pce_pct, abs=0.0051)
    assert float(re.search(r'data-metric="pce_pct" data-value="([^"]+)"', page).group(1)) == ref.pce_pct
    if ref.kind == "2T":
        assert float(shown["voc_v"]) == pytest.approx(ref.voc_v, abs=0.00051)
        assert float(shown["mismatch_ma_cm2"]) == pytest.approx(ref.mismatch_ma_cm2, abs=0.0051)
        assert shown["limiting"] == ref.limiting
    if np.isfinite(ref.avt_pct):
        assert float(shown["avt_pct"]) == pytest.approx(ref.avt_pct, abs=0.0051)
        assert float(shown["lue_pct"]) == pytest.approx(ref.lue_pct, abs=0.0051)
        assert float(shown["cie_x"]) == pytest.approx(ref.cie_xy[0], abs=0.000051)
    md = out.files["markdown"].read_text()
    assert f"| PCE (%) | {ref.pce_pct:.2f} |" in md
    return ref


def _check_sections(out):
    page = out.files["html"].read_text()
    md = out.files["markdown"].read_text()
    for sid in out.data["sections"]:
        assert f'<section id="{sid}">' in page, sid
        assert f'<a id="{sid}"></a>' in md and f"## {rep.SECTION_TITLES[sid]}" in md, sid
    # every figure: a PNG file for the Markdown and the same image embedded in the HTML
    for f in out.figures:
        png = (out.files["figures"] / f"{f.key}.png").read_bytes()
        assert png.startswith(PNG_MAGIC) and png == f.png and b"http" not in png
        assert f"](figures/{f.key}.png)" in md
        assert f'<figure id="fig-{f.key}">' in page
    assert page.count('src="data:image/png;base64,') == len(out.figures)


def _no_remote_resources(page: str):
    assert not re.search(r"""(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", page, re.I)
    assert "@import" not in page and "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r"""src\s*=\s*["'](?!data:)""", page)


# --------------------------------------------------------------------------- simulate files


def test_simulate_report_sections_and_numbers(simulate_report):
    path, out = simulate_report
    want = {"summary", "stack", "headline", "optics", "eqe", "nk", "generation", "jv", "design-file",
            "reproducibility"}
    assert want <= set(out.data["sections"])
    assert "history" not in out.data["sections"] and out.data["study"] is None
    _check_sections(out)
    _check_headline_equals_tandem(out, load(path).design({}))
    assert {f.key for f in out.figures} == {"stack", "optics", "eqe", "collection", "nk", "generation", "jv"}


def test_stack_table_has_provenance_of_every_layer(simulate_report):
    path, out = simulate_report
    spec = load(path)
    rows = out.data["layers"]
    assert [r["name"] for r in rows] == [lay.name for lay in spec.layers]
    gaps = spec.bandgaps_ev({})
    for i, (r, lay) in enumerate(zip(rows, spec.layers)):
        prov = spec.material(i, gaps.get(lay.name)).provenance
        assert r["nk_source"] == prov.source and r["nk_kind"] == prov.kind
        assert r["nk_kind"] in ("measured", "modelled")
        assert r["thickness_nm"] == pytest.approx(spec.thicknesses_nm({})[spec.layers.index(lay)])
    md = out.files["markdown"].read_text()
    for r in rows:
        assert f"| {r['name']} | {r['material']} |" in md


def test_collection_section(simulate_report):
    """Carrier collection: eta_c(z) per thin-film subcell and the EQE with and without collection loss."""
    path, out = simulate_report
    subs = [s for s in out.data["subcells"] if s["collection"] != "ideal"]
    assert subs and "collection" in out.data["sections"]
    for s in subs:
        eta = np.array(s["collection_pct"])
        assert eta.shape == np.array(s["z_rel"]).shape and np.all((eta >= 0) & (eta <= 100))
    md = out.files["markdown"].read_text()
    assert "Carrier collection" in md and "is not collected at short circuit" in md
    assert "collection" in {f.key for f in out.figures}


def test_photocurrent_bookkeeping_closes(simulate_report):
    """Absorbed (per layer) + reflected + transmitted = photons available on the grid, and
    the absorbers' share is the subcells' photocurrent."""
    path, out = simulate_report
    pc = out.data["photocurrent_ma_cm2"]
    total = sum(pc["layers"].values()) + pc["reflected"] + pc["transmitted"]
    wl = np.arange(300.0, 1200.1, 20.0)
    assert pc["available"] == pytest.approx(float(optics.jsc(np.ones_like(wl), wl)), rel=1e-12)
    assert total == pytest.approx(pc["available"], rel=1e-6)
    for s in out.data["subcells"]:
        # absorbed = what complete collection would give; carrier collection keeps a part of it
        assert pc["layers"][s["absorber"]] == pytest.approx(s["jph_ideal_ma_cm2"], rel=1e-6)
        assert 0 <= s["collection_loss_ma_cm2"] < s["jph_ideal_ma_cm2"]
        assert s["jph_ma_cm2"] == pytest.approx(s["jph_ideal_ma_cm2"] - s["collection_loss_ma_cm2"])
    md = out.files["markdown"].read_text()
    if any(s["collection"] != "ideal" for s in out.data["subcells"]):
        assert "collection loss (recombination)" in md


def test_design_file_reproduces(simulate_report, tmp_path):
    path, out = simulate_report
    d = load(out.files["design"]).design({})
    assert tandem.evaluate(d).pce_pct == out.data["headline"]["pce_pct"]


@pytest.mark.slow
def test_html_is_offline(simulate_report, quick_study):
    for out in (simulate_report[1], quick_study[2]):
        _no_remote_resources(out.files["html"].read_text())


def test_generation_map_axis_collapses_incoherent_layers(simulate_report):
    spec = load(simulate_report[0])
    design = spec.design({})
    wl = design.wavelengths()
    gm = rep.generation_map_data(design, wl)
    prof = optics.absorption_profile(design.stack, wl, dz_nm=gm["dz_nm"])
    assert gm["g"].shape == prof.absorption.shape
    # G integrates back to the layer absorptance times the photon flux
    from optics.spectra import am15g_photon_flux

    qd = [i for i, lay in enumerate(spec.layers) if lay.name == "qd"][0]
    sel = prof.layer_index == qd
    g_int = (gm["g"][sel] * prof.dz_nm[sel, None]).sum(axis=0) * 1e-7      # per cm^2 per nm
    assert np.allclose(g_int, prof.layer_absorptance(qd) * am15g_photon_flux(wl) * 1e-4, rtol=1e-9)
    top, bottom = gm["boundaries"][-1][1], gm["boundaries"][0][0]
    assert bottom == 0 and top < 10_000        # the 160 um wafer does not stretch the depth axis
    assert np.all(np.diff(gm["z_plot"]) > 0)


# --------------------------------------------------------------------------- studies


@pytest.mark.slow
def test_study_report_sections_and_numbers(quick_study):
    path, url, out = quick_study
    spec = load(path)
    study = optuna.load_study(study_name="q", storage=runmod.open_storage(url))
    best = runmod.best_trials(study)
    assert best, "the fixture study should have a feasible design"
    assert out.data["params"] == best[0].params
    assert {"history", "importances", "top10", "sensitivity"} <= set(out.data["sections"])
    assert "pareto" not in out.data["sections"]
    _check_sections(out)
    _check_headline_equals_tandem(out, spec.design(best[0].params))
    st = out.data["study"]
    assert st["n_trials"] == 12 and st["seed"] == 5 and st["chosen_trial"] == best[0].number
    assert st["top10"][0]["trial"] == best[0].number
    values = [r["objectives"]["pce_pct"] for r in st["top10"]]
    assert values == sorted(values, reverse=True) and len(values) <= 10
    assert set(st["importances"]["pce_pct"]) == set(spec.parameters)


@pytest.mark.slow
def test_sensitivity_is_pce_of_perturbed_designs(quick_study):
    path, _, out = quick_study
    spec = load(path)
    params = out.data["params"]
    sens = {e["parameter"]: e for e in out.data["sensitivity"]}
    assert set(sens) == set(spec.parameters)
    e = sens["qd.thickness_nm"]
    lo, hi = spec.parameters["qd.thickness_nm"].low, spec.parameters["qd.thickness_nm"].high
    assert all(lo <= v <= hi for v in e["values"])                      # inside the study's bounds
    # the 9-point grid (2.5 % steps) as far as the bounds allow
    x_lo, x_hi = max(-10.0, 100 * (lo / e["optimum"] - 1)), min(10.0, 100 * (hi / e["optimum"] - 1))
    assert x_lo - 1e-9 <= e["x"][0] < x_lo + 2.5 and x_hi - 2.5 < e["x"][-1] <= x_hi + 1e-9
    assert np.allclose(np.diff(e["x"]), 2.5)
    mid = e["x"].index(0.0)
    assert e["pce_pct"][mid] == pytest.approx(out.data["headline"]["pce_pct"], rel=1e-9)
    p = dict(params)
    p["qd.thickness_nm"] = e["values"][0]
    ref = tandem.evaluate(spec.design(p), with_cri=False)
    assert e["pce_pct"][0] == pytest.approx(ref.pce_pct, rel=1e-9)
    assert e["feasible"][0] == (abs(ref.mismatch_ma_cm2) <= 6.0)
    g = sens["qd.bandgap_ev"]
    assert all(1.7 - 1e-12 <= v <= 1.85 + 1e-12 for v in g["values"])     # CsPbI3_QD tunable range


@pytest.mark.slow
def test_report_from_storage_and_name_only(quick_study, tmp_path):
    path, url, out = quick_study
    assert main(["report", "--storage", url, "--study", "q", "--out", str(tmp_path / "r")]) == 0
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["headline"]["pce_pct"] == out.data["headline"]["pce_pct"]
    assert data["reproducibility"]["file_text"] == path.read_text()
    # a plain path to the SQLite file works too
    db = url[len("sqlite:///"):]
    assert main(["report", "--storage", db, "--study", "q", "--out", str(tmp_path / "r2")]) == 0
    data2 = json.loads((tmp_path / "r2" / "report.json").read_text())
    assert data2["headline"]["pce_pct"] == out.data["headline"]["pce_pct"]


@pytest.mark.slow
def test_report_of_chosen_trial(quick_study, tmp_path):
    path, url, _ = quick_study
    out = rep.write_report(path, trial=0, out_dir=tmp_path / "t0")
    study = optuna.load_study(study_name="q", storage=runmod.open_storage(url))
    t0 = study.trials[0]
    assert out.data["params"] == t0.params
    assert out.data["headline"]["pce_pct"] == tandem.evaluate(load(path).design(t0.params)).pce_pct


@pytest.mark.slow
def test_study_without_feasible_design_reports_best_infeasible_with_warning(study_file, tmp_path):
    path = _example(study_file, "quick.toml", tmp_path, "nf", max_mismatch=1e-9, n_trials=4, batch_size=4, seed=1)
    url = _run(path)
    study = optuna.load_study(study_name="nf", storage=runmod.open_storage(url))
    assert not runmod.best_trials(study)
    out = rep.write_report(path, out_dir=tmp_path / "r")
    best = max(study.trials, key=lambda t: t.values[0])
    assert out.data["params"] == best.params
    assert any("constraints" in w for w in out.data["warnings"])
    assert "No completed trial satisfies" in out.files["html"].read_text()


@pytest.mark.slow
def test_multi_objective_semitransparent_report(window_study):
    path, out = window_study
    spec = load(path)
    assert {"colour", "pareto", "history", "importances", "top10", "sensitivity"} <= set(out.data["sections"])
    _check_sections(out)
    ref = _check_headline_equals_tandem(out, spec.design(out.data["params"]))
    assert np.isfinite(ref.avt_pct) and ref.cie_xy is not None
    pa = out.data["study"]["pareto"]
    assert pa["metrics"] == ["pce_pct", "avt_pct"] and len(pa["front"]) >= 1
    # the reported design is the highest-PCE member of the front
    assert out.data["headline"]["pce_pct"] == pytest.approx(max(p[0] for p in pa["front"]), rel=1e-9)


def test_colour_swatch_white_for_clear_device():
    """A device that transmits everything looks white; a red filter looks red."""
    class R:
        pass

    wl = np.arange(380.0, 781.0, 5.0)
    from tandem import transparency as tr

    for T, check in ((np.ones_like(wl), lambda c: min(c) > 0.99),
                     (np.where(wl > 600, 0.9, 0.02), lambda c: c[0] > 0.6 and c[1] < 0.4 and c[2] < 0.4)):
        r = R()
        r.optics = optics.OpticsResult(wl, 1 - T, T, np.zeros((0, wl.size)), (), 0.0, "unpolarized", "native")
        r.cie_xy = tuple(tr.chromaticity(T, wl))
        assert check(rep.transmitted_srgb(r))


# --------------------------------------------------------------------------- bad input


def _cli_error(capsys, argv, *fragments):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("qdtandem: error:")
    for f in fragments:
        assert f in err, (f, err)
    return err


def test_missing_file_is_a_clear_error(capsys, tmp_path):
    _cli_error(capsys, ["report", str(tmp_path / "nope.toml")], "nope.toml", "no such")


def test_study_never_run_is_a_clear_error(study_file, capsys, tmp_path):
    path = _example(study_file, "quick.toml", tmp_path, "never")
    _cli_error(capsys, ["report", str(path), "--out", str(tmp_path / "o")], "no study storage", "optimize")
    assert not path.with_suffix(".db").exists()        # reporting creates no storage
    assert not list(tmp_path.glob("*.journal"))


@pytest.mark.slow
def test_unknown_study_name_is_a_clear_error(capsys, quick_study):
    _, url, _ = quick_study
    _cli_error(capsys, ["report", "--storage", url, "--study", "other"], "no study named 'other'", "q")


def test_empty_study_is_a_clear_error(study_file, capsys, tmp_path):
    path = _example(study_file, "quick.toml", tmp_path, "empty")
    runmod.open_study(load(path), runmod.storage_url(load(path)))   # created, never run
    _cli_error(capsys, ["report", str(path)], "empty", "no trials")


def test_study_without_completed_trials_is_a_clear_error(study_file, capsys, tmp_path):
    path = _example(study_file, "quick.toml", tmp_path, "failed")
    url = f"sqlite:///{path.with_suffix('.db')}"
    study = runmod.open_study(load(path), url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # heartbeat outside Study.optimize
        for _ in range(2):
            t = study.ask(runmod.distributions(load(path)))
            study.tell(t, state=optuna.trial.TrialState.FAIL)
    _cli_error(capsys, ["report", str(path)], "no completed trials", "2 FAIL")
    _cli_error(capsys, ["report", "--storage", url, "--study", "failed"], "no completed trials")


@pytest.mark.slow
def test_other_bad_arguments(capsys, quick_study, simulate_report, tmp_path):
    path, url, _ = quick_study
    _cli_error(capsys, ["report"], "--storage")
    _cli_error(capsys, ["report", str(path), "--trial", "9999"], "no completed trial 9999")
    _cli_error(capsys, ["report", str(simulate_report[0]), "--study", "q"], "simulate file")
    _cli_error(capsys, ["report", str(path), "--tolerance", "0"], "--tolerance")
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text().replace('material = "Ag"', 'material = "Agg"'))
    _cli_error(capsys, ["report", str(bad)], "bad.toml", "Agg")


@pytest.mark.slow
def test_console_script_exit_code(tmp_path):
    exe = shutil.which("qdtandem")
    cmd = [exe] if exe else [sys.executable, "-m", "studies.cli"]
    p = subprocess.run(cmd + ["report", str(tmp_path / "missing.toml")], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "missing.toml" in p.stderr


def test_storage_password_is_not_shown():
    assert "secret" not in safe_url("postgresql://me:secret@db.example/qd")
    assert safe_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


# --------------------------------------------------------------------------- browser


CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_chromium_renders_the_report(quick_study, tmp_path):
    _, _, out = quick_study
    shot = tmp_path / "shot.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,3000",
           out.files["html"].resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120)
    assert shot.exists() and shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 10_000


# --------------------------------------------------------------------------- structure


@pytest.mark.slow
def test_html_is_well_formed_and_navigable(quick_study):
    from html.parser import HTMLParser

    _, _, out = quick_study
    page = out.files["html"].read_text()
    void = {"meta", "img", "br", "hr", "link", "input"}

    class Check(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.ids, self.links = [], [], []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if "id" in a:
                self.ids.append(a["id"])
            if tag == "a" and "href" in a:
                self.links.append(a["href"])
            if tag not in void:
                self.stack.append(tag)

        def handle_endtag(self, tag):
            assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
            self.stack.pop()

    c = Check()
    c.feed(page)
    c.close()
    assert c.stack == []
    assert len(c.ids) == len(set(c.ids))
    for href in c.links:                      # navigation only inside the page
        assert href.startswith("#") and href[1:] in c.ids


@pytest.mark.slow
def test_key_findings_quote_the_report_numbers(quick_study):
    _, _, out = quick_study
    data = out.data
    text = " ".join(rep.key_findings(data))
    pc = data["photocurrent_ma_cm2"]
    parasitic = sum(v for k, v in pc["layers"].items()
                    if "absorber" not in next(r["role"] for r in data["layers"] if r["name"] == k))
    assert f"Parasitic absorption takes {parasitic:.2f} mA/cm^2" in text
    assert f"Reflection loses {pc['reflected']:.2f} mA/cm^2" in text
    assert f"The {data['headline']['limiting']} subcell has the lower photocurrent" in text
    worst = max(data["sensitivity"], key=lambda e: e["max_drop_pct"])
    assert f"Most sensitive free parameter: {worst['parameter']}" in text
    md = out.files["markdown"].read_text()
    for e in data["sensitivity"]:
        assert f"| {e['parameter']} |" in md


def test_photocurrents_follow_the_design_spectrum(simulate_report):
    """Under another illumination the per-layer currents use that spectrum and still close."""
    import dataclasses

    spec = load(simulate_report[0])
    d = spec.design({})
    if not hasattr(d, "spectrum"):
        pytest.skip("tandem.Design has no spectrum option")
    d0 = dataclasses.replace(d, spectrum="AM0")
    r0 = tandem.evaluate(d0)
    pc = rep.photocurrents(r0, "AM0")
    total = sum(pc["layers"].values()) + pc["reflected"] + pc["transmitted"]
    assert total == pytest.approx(pc["available"], rel=1e-6)
    top = spec.layers[spec.top.absorber].name
    assert pc["layers"][top] == pytest.approx(r0.top.jph_ideal_ma_cm2, rel=1e-6)
    assert pc["available"] > rep.photocurrents(r0, "AM1.5G")["available"]    # AM0 is brighter


@pytest.mark.slow
def test_report_of_a_study_in_a_journal_file(study_file, tmp_path):
    path = _example(study_file, "quick.toml", tmp_path, "jq", n_trials=6, batch_size=6, seed=4)
    res = runmod.run_study(load(path), storage=str(tmp_path / "jq.optuna.journal"))
    # the journal beside the study file is found without --storage
    out = rep.write_report(path, out_dir=tmp_path / "report")
    recorded = [runmod.trial_metrics(t)["pce_pct"] for t in res.study.get_trials()
                if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(recorded) == 6
    assert min(abs(p - out.data["headline"]["pce_pct"]) for p in recorded) < 1e-9
    assert main(["report", "--storage", str(tmp_path / "jq.optuna.journal"), "--study", "jq",
                 "--out", str(tmp_path / "r2")]) == 0


def test_stack_drawing_leader_lines_do_not_cross():
    from studies.report.plots import stack_drawing

    # thin layers next to thick ones and long labels: the case where leaders used to cross
    d = [1.1e6, 400, 8, 40, 450, 10, 45, 40, 425, 10, 100, 1.6e5, 8, 200]
    names = [f"layer_{i}" + "x" * (3 * (i % 4)) for i in range(len(d))]
    roles = ["", "", "", "", "top absorber", "", "interconnect", "", "", "", "", "bottom absorber", "", ""]
    fig = stack_drawing(names, [f"mat{i}" for i in range(len(d))], d, roles)
    leaders = [np.asarray(line.get_xydata()) for line in fig.axes[0].get_lines() if line.get_gid() == "leader"]
    assert len(leaders) == len(d)
    ys = np.array([xy[:, 1] for xy in leaders])          # [layer, vertex]; all share the vertices' x
    assert all(np.allclose(xy[:, 0], leaders[0][:, 0]) for xy in leaders)
    # two polylines on common x vertices cross iff their order flips between vertices
    assert np.all(np.diff(ys, axis=0) > 0), "leader lines cross"


@pytest.mark.slow
def test_sensitivity_scan_and_convergence_remark_stay_inside_the_bounds(quick_study):
    path, _, out = quick_study
    spec = load(path)
    b = spec.parameters["qd.thickness_nm"]
    # the reported design moved to the upper bound of the absorber thickness: the scan may only go down
    params = dict(out.data["params"], **{"qd.thickness_nm": b.high})
    e = next(x for x in rep.sensitivity(spec, params, 10.0, 0.05) if x["parameter"] == "qd.thickness_nm")
    assert max(e["values"]) == b.high and e["x"][-1] == 0.0 and e["bounds"] == [b.low, b.high]
    assert len(e["values"]) == 5                     # 0, -2.5, -5, -7.5, -10 %: the upper half is outside
    # a thicker absorber beyond the bound may well give more PCE; the remark must not suggest it
    data = dict(out.data, sensitivity=[e], at_bounds=rep.parameters_at_bounds(spec, params))
    text = " ".join(rep.key_findings(data))
    assert "qd.thickness_nm = %.4g nm is at the upper bound of the study (%g nm)" % (b.high, b.high) in text
    assert "widen the bound" in text
    for line in rep.key_findings(data):
        if line.startswith("Moving qd.thickness_nm"):
            better = max(p for p, f in zip(e["pce_pct"], e["feasible"]) if f)
            assert "%.2f %%" % better in line          # a point inside the bounds


def test_parameters_at_bounds():
    spec = load(EXAMPLES / "quick.toml")
    names = list(spec.parameters)
    mid = {k: 0.5 * (b.low + b.high) for k, b in spec.parameters.items()}
    assert rep.parameters_at_bounds(spec, mid) == []
    b0 = spec.parameters[names[0]]
    near_low = dict(mid, **{names[0]: b0.low + 0.005 * (b0.high - b0.low)})
    assert rep.parameters_at_bounds(spec, near_low) == [
        {"parameter": names[0], "value": near_low[names[0]], "side": "lower", "bound": b0.low}]
    off = dict(mid, **{names[0]: b0.low + 0.02 * (b0.high - b0.low)})     # 2 % of the span away: not at it
    assert rep.parameters_at_bounds(spec, off) == []


@pytest.mark.parametrize("xy,reference,cct", [((0.31271, 0.32902), "CIE daylight (D series)", 6504),
                                               ((0.44757, 0.40745), "Planckian radiator", 2856)])
def test_cri_names_its_reference_illuminant(xy, reference, cct):
    # D65 and CIE illuminant A: the CCTs of their definitions (CIE 15:2004)
    c = rep.cri_reference(xy)
    assert c["reference_illuminant"] == reference and c["cct_k"] == pytest.approx(cct, abs=3)
    assert c["test_light"] == "AM1.5G through the device"


@pytest.mark.slow
def test_semitransparent_report_cri_row_names_the_reference(window_study):
    _, out = window_study
    label = next(lab for lab, key, _ in rep.headline_rows(out.data) if key == "cri")
    c = out.data["colour"]
    assert c["label"] in label and "AM1.5G" in label and c["label"] in out.files["html"].read_text()
