"""light_trapping = "pyramids": Design, evaluate_batch and the study-file [device.texture] table."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import tandem
from optics.texture import Texture, WaferTexture
from studies.spec import StudyFileError, load, loads

EXAMPLES = Path(__file__).resolve().parents[1] / "studies" / "examples"
MID = {"ar.thickness_nm": 100, "top_IZO.thickness_nm": 100, "qd.thickness_nm": 400, "qd.bandgap_ev": 1.75,
       "recombination_ITO.thickness_nm": 20}


@pytest.fixture(scope="module")
def textured():
    return load(EXAMPLES / "cspbi3qd_si_2t_textured.toml")


def test_example_parses_texture(textured):
    assert textured.light_trapping == "pyramids"
    assert textured.texture == WaferTexture(Texture("random_upright"), Texture("random_upright"))
    assert textured.design(MID).texture == textured.texture


@pytest.mark.slow
def test_pyramids_between_planar_and_lambertian(textured):
    """Texture cuts the front reflection (top cell gains), traps the infrared (bottom cell gains
    over planar) but, with its real rear losses, stays below the ideal Lambertian wafer's bottom
    current; the result conserves energy."""
    d = textured.design(MID)
    res = {lt: tandem.evaluate(dataclasses.replace(d, light_trapping=lt), with_cri=False)
           for lt in ("none", "lambertian", "pyramids")}
    assert res["pyramids"].top.jph_ma_cm2 > res["none"].top.jph_ma_cm2 + 0.3
    assert res["pyramids"].bottom.jph_ma_cm2 > res["none"].bottom.jph_ma_cm2 + 1.0
    o = res["pyramids"].optics
    assert np.abs(o.R + o.T + o.A.sum(0) - 1).max() < 1e-6
    assert o.A[-2].max() > 0  # parasitic absorption of the rear ITO is counted, not idealised away


def test_batch_equals_single(textured):
    rng = np.random.default_rng(3)
    designs = []
    for _ in range(3):
        v = dict(MID, **{"qd.thickness_nm": float(rng.uniform(200, 800)), "ar.thickness_nm": float(rng.uniform(60, 160))})
        designs.append(textured.design(v))
    batch = tandem.evaluate_batch(designs, with_cri=False)
    for d, r in zip(designs, batch.results):
        one = tandem.evaluate(d, with_cri=False)
        assert r.top.jph_ma_cm2 == pytest.approx(one.top.jph_ma_cm2, abs=1e-9)
        assert r.bottom.jph_ma_cm2 == pytest.approx(one.bottom.jph_ma_cm2, abs=1e-9)


def _edit(text, old, new):
    assert old in text
    return text.replace(old, new)


def test_bad_texture_input(textured):
    text = textured.text
    with pytest.raises(StudyFileError, match="device.texture.facet_deg"):
        loads(_edit(text, "facet_deg = 54.74", "facet_deg = 90"))
    with pytest.raises(StudyFileError, match="device.texture.front"):
        loads(_edit(text, 'front = "random_upright"', 'front = "pyramid"'))
    with pytest.raises(StudyFileError, match="device.light_trapping"):
        loads(_edit(text, "coherent = false", "coherent = true"))
    with pytest.raises(StudyFileError, match="device.texture"):
        loads(_edit(text, 'light_trapping = "pyramids"', 'light_trapping = "lambertian"'))
    d = textured.design(MID)
    with pytest.raises(ValueError, match="exactly one incoherent"):
        stack = d.stack.replace_thicknesses(d.stack.thicknesses_nm)
        layers = tuple(dataclasses.replace(lay, coherent=True) for lay in stack.layers)
        dataclasses.replace(d, stack=dataclasses.replace(stack, layers=layers))


@pytest.mark.slow
def test_report_of_textured_design(textured, tmp_path):
    """The report draws the textured wafer and splits the reflection into front reflection and
    escape; with the parasitic absorption per layer the bookkeeping closes."""
    from studies import report as rep
    from studies.simulate_file import dumps_toml

    raw = textured.fixed_raw(MID)
    raw["device"]["wavelengths_nm"] = {"start": 300, "stop": 1200, "step": 20}
    path = tmp_path / "design.toml"
    path.write_text(dumps_toml(raw))
    out = rep.write_report(path, out_dir=tmp_path / "report")
    assert "texture" in out.data["sections"] and "texture" in {f.key for f in out.figures}
    tex = out.data["device"]["texture"]
    pc = out.data["photocurrent_ma_cm2"]
    assert tex["reflected_front_ma_cm2"] + tex["escaped_ma_cm2"] == pytest.approx(pc["reflected"], rel=1e-9)
    assert tex["escaped_ma_cm2"] > 0.05  # near-infrared light leaves through the front
    md = out.files["markdown"].read_text()
    assert "reflected at the front" in md and "escaped from the wafer" in md
    total = sum(pc["layers"].values()) + pc["reflected"] + pc["transmitted"]
    assert total == pytest.approx(pc["available"], rel=1e-6)


@pytest.mark.slow
def test_converged_in_rays_and_bins(textured):
    """Doubling the rays, the angle bins (polar and azimuth) and the films' angle grids moves no
    layer's photocurrent by more than 0.15 mA/cm^2 (the figure stated in the README)."""
    from optics.redistribution import TextureOptions, solve_textured
    from optics.solver import stack_arrays
    from optics.spectra import jsc

    d = textured.design(MID)
    wl = np.arange(300.0, 1201.0, 10.0)
    n, n0, nf, th = stack_arrays([d.stack], wl)
    args = (n[0], th[0], d.stack.coherent, wl, n0[0], nf[0], d.texture.front, d.texture.rear)
    base = jsc(solve_textured(*args).A, wl)
    fine = jsc(solve_textured(*args, options=TextureOptions(
        n_bins=45, n_phi=5, rays_per_bin=64, rays_incident=900, n_outer_angles=19, n_cone_angles=16,
        n_tir_angles=24, index_step=0.01)).A, wl)
    assert np.abs(fine - base).max() < 0.15, (np.round(base, 2), np.round(fine, 2))


def test_opaque_wavelength_shortcuts_converged(textured, monkeypatch):
    """Where the wafer is opaque, two shortcuts save a quarter of the facet-film work: a wavelength
    counts as opaque below 1e-6 single-pass transmittance (not 1e-12) and the front films seen
    from the wafer use a 4 + 4 angle grid (not 8 + 12). Against the exact settings no layer, R or T
    moves by more than 0.01 mA/cm^2 (4.9e-3 here), while the shortcuts do change the result (they
    are not no-ops)."""
    from optics import redistribution
    from optics.redistribution import TextureOptions, solve_textured
    from optics.solver import stack_arrays
    from optics.spectra import jsc

    d = textured.design(MID)
    wl = np.arange(300.0, 1201.0, 5.0)
    n, n0, nf, th = stack_arrays([d.stack], wl)
    args = (n[0], th[0], d.stack.coherent, wl, n0[0], nf[0], d.texture.front, d.texture.rear)

    def photocurrents(**options):
        r = solve_textured(*args, options=TextureOptions(**options))
        assert np.abs(r.R + r.T + r.A.sum(0) - 1).max() < 1e-9
        return jsc(np.vstack([r.A, r.R[None], r.T[None]]), wl)

    fast = photocurrents()
    monkeypatch.setattr(redistribution, "OPAQUE_TRANSMITTANCE", 1e-12)
    exact = photocurrents(n_cone_angles_opaque=8, n_tir_angles_opaque=12)
    diff = np.abs(fast - exact).max()
    assert 1e-5 < diff < 1e-2, diff


def _closed_form_profile(terms, row, d_nm, z):
    """a(z) [Z, W] per nm of the closed form (alpha, kr, c_f, c_b, c_o) (optics.tmm.CoherentSolution
    .absorption_terms) of design ``row``."""
    alpha, kr, cf, cb, co = (np.asarray(x)[row] for x in terms)
    z = z[:, None]
    return cf * np.exp(-alpha * z) + cb * np.exp(-alpha * (d_nm - z)) + (co * np.exp(-2j * kr * z)).real


@pytest.mark.slow
def test_textured_absorber_profile_for_collection(textured):
    """The collection model gets a closed-form profile of the textured top absorber: the shape of
    its most-hit facet angle scaled to the textured absorptance. It integrates to that
    absorptance, and against the full hit-weighted profile of optics.texture_profile a steeply
    graded collection eta(z) (1 to 0.7) sees the same photon-weighted collection to 1e-3, where
    uniform generation (what textured absorbers had before) is 0.05 off."""
    import optics
    from optics.texture_profile import textured_absorption_profile
    from tandem.batch_optics import group_designs, solve_optics

    d = textured.design({**MID, "qd.thickness_nm": 700})
    qd = d.stack.labels.index("qd")
    grids, _ = group_designs([d])
    wl = grids[0]
    go = solve_optics([d], wl).solved
    terms = go.profile_terms[qd]
    dq = d.stack.layers[qd].thickness_nm
    z = (np.arange(140) + 0.5) * dq / 140
    a_cf = _closed_form_profile(terms, 0, dq, z)
    np.testing.assert_allclose(a_cf.sum(0) * dq / 140, go.A[0, qd], atol=2e-3)  # midpoint rule, 5 nm cells

    from optics.redistribution import solve_textured
    from optics.solver import stack_arrays
    n, n0, nf, th = stack_arrays([d.stack], wl)
    res = solve_textured(n[0], th[0], d.stack.coherent, wl, n0[0], nf[0], d.texture.front, d.texture.rear)
    full = textured_absorption_profile(n[0], th[0], wl, res, layer=qd, dz_nm=5.0)
    zf = full.z_nm[full.layer_index == qd] - full.boundaries_nm[qd]
    a_full = full.absorption[full.layer_index == qd]
    eta = lambda zz: 1 - 0.3 * zz / dq  # noqa: E731
    phi = optics.am15g_photon_flux(wl) * go.A[0, qd]
    ok = go.A[0, qd] > 1e-3
    c_full = (eta(zf)[:, None] * a_full).sum(0)[ok] / a_full.sum(0)[ok]
    c_cf = (eta(z)[:, None] * a_cf).sum(0)[ok] / a_cf.sum(0)[ok]
    w = phi[ok] / phi[ok].sum()
    assert abs((c_cf * w).sum() - (c_full * w).sum()) < 1e-3, ((c_cf * w).sum(), (c_full * w).sum())
    assert abs(eta(z).mean() - (c_full * w).sum()) > 0.03  # uniform generation would be far off
