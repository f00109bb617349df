"""optics.texture / optics.redistribution: textured stacks against analytic limits.

RayFlare comparisons are in tests/test_optics_texture_rayflare.py.
"""
import numpy as np
import pytest
from scipy.special import expn

import optics
from optics.redistribution import TextureOptions, solve_textured
from optics.texture import Bins, Texture, incidence_roots, trace

WL = np.arange(400.0, 1201.0, 50.0)


def _si_like(wl, k=None):
    """Si-like wafer index: n = 3.6, k falling with wavelength (alpha W from 1e3 to 1e-2)."""
    kk = 0.02 * np.exp(-(wl - 400) / 90.0) if k is None else k
    return 3.6 + 1j * kk


def _stack(wl):
    ito = 1.9 + 0.01j + 0.0 * wl
    film = 2.2 + 0.05j * np.exp(-(wl - 400) / 200)
    wafer = _si_like(wl)
    rear = 1.8 + 0.005j + 0.0 * wl
    ag = 0.15 + 7j + 0.0 * wl
    n = np.array([ito, film, wafer, rear, ag])
    return n, [80.0, 300.0, 150e3, 60.0, 200.0], [True, True, False, True, True]


@pytest.mark.parametrize("front", ["random_upright", "regular_upright", "regular_inverted", "planar", "lambertian"])
@pytest.mark.parametrize("rear", ["random_upright", "planar", "lambertian"])
def test_energy_conserved(front, rear):
    n, d, coh = _stack(WL)
    res = solve_textured(n, d, coh, WL, 1.0, 1.0, Texture(front), Texture(rear))
    assert np.abs(res.R + res.T + res.A.sum(0) - 1).max() < 1e-6
    assert np.all(res.A >= -1e-12) and np.all(res.R >= 0) and np.all(res.T >= -1e-12)
    np.testing.assert_allclose(res.R, res.R_front + res.R_escape)


def test_energy_conserved_transparent_exit_and_oblique():
    n, d, coh = _stack(WL)
    res = solve_textured(n[:3], d[:3], coh[:3], WL, 1.0, 1.5, Texture(), Texture("regular_inverted"), angle_deg=35)
    assert np.abs(res.R + res.T + res.A.sum(0) - 1).max() < 1e-6
    assert res.T[-1] > 0.1  # the wafer is transparent there and nothing mirrors the rear


@pytest.mark.parametrize("kind", ["planar", "regular_upright", "random_upright"])
def test_vanishing_texture_is_planar_tmm(kind):
    """Facets at 0.01 deg (texture height -> 0) give the planar incoherent TMM of the same stack."""
    n, d, coh = _stack(WL)
    flat = optics.solve_arrays(n, d, coh, WL)
    tex = Texture(kind, 0.01) if kind != "planar" else Texture("planar")
    res = solve_textured(n, d, coh, WL, 1.0, 1.0, tex, tex)
    # the only difference: the wafer's first angle bin (0-2 deg) is propagated at 1 deg
    np.testing.assert_allclose(res.R, flat.R, atol=2e-3)
    np.testing.assert_allclose(res.A, flat.A, atol=2e-3)
    np.testing.assert_allclose(res.T, flat.T, atol=1e-4)


def _fresnel_r(n1, n2, mu1):
    """Unpolarised Fresnel reflectance from real n1 into real n2 at cos(theta1) = mu1."""
    s2 = (n1 / n2) ** 2 * (1 - mu1 ** 2)
    mu2 = np.sqrt(np.clip(1 - s2, 0, None))
    rs = ((n1 * mu1 - n2 * mu2) / (n1 * mu1 + n2 * mu2)) ** 2
    rp = ((n2 * mu1 - n1 * mu2) / (n2 * mu1 + n1 * mu2)) ** 2
    return np.where(s2 >= 1, 1.0, 0.5 * (rs + rp))


def test_lambertian_rear_reaches_4n2_limit():
    """A planar front and an ideal randomising mirror behind the wafer: the wafer absorptance is
    T_in (1 - eps e^{-aW} / (1 - rho)), eps and rho the escape and return of isotropic light
    (quadrature below); in the weak-absorption limit this is the 4 n^2 (Yablonovitch) path
    enhancement A = 4 aW / (4 aW + eta), eta the escape probability (1/n^2 for an ideal front)."""
    n_si = 3.6
    wl = np.linspace(900.0, 1200.0, 7)
    w_nm = 200e3
    alpha_w = np.logspace(-3, 0.5, wl.size)  # alpha W
    k = alpha_w * wl / (4 * np.pi * w_nm)
    mirror = 1e-6 + 1e4j  # a near-perfect conductor behind the wafer: R = 1 - 1e-9
    n = np.array([n_si + 1j * k])
    res = solve_textured(n, [w_nm], [False], wl, 1.0, mirror + 0 * wl, Texture("planar"), Texture("lambertian"),
                         options=TextureOptions(n_bins=90, n_phi=1))
    mu = np.linspace(0, 1, 20001)[1:]
    r_f = _fresnel_r(n_si, 1.0, mu)
    aw = alpha_w[:, None]
    eps = np.trapezoid(2 * mu * np.exp(-aw / mu) * (1 - r_f), mu, axis=1)
    rho = np.trapezoid(2 * mu * np.exp(-2 * aw / mu) * r_f, mu, axis=1)
    t_in = 1 - _fresnel_r(1.0, n_si, np.array([1.0]))[0]
    expected = t_in * (1 - eps * np.exp(-alpha_w) / (1 - rho))
    np.testing.assert_allclose(res.A[0], expected, rtol=0.02)
    # weak absorption: the 4 n^2 path enhancement, escape eta = integral of T over the cone
    eta = np.trapezoid(2 * mu * (1 - r_f), mu)
    assert eta == pytest.approx((1 - _fresnel_r(n_si, 1.0, mu[-1:])[0]) / n_si ** 2, rel=0.15)
    weak = alpha_w < 2e-3
    np.testing.assert_allclose(res.A[0, weak] / t_in, 4 * alpha_w[weak] / (4 * alpha_w[weak] + eta), rtol=0.02)


def test_regular_pyramids_ray_paths():
    """Normal incidence on 54.74 deg upright pyramids: every ray hits twice, 11 % three times
    (Baker-Finch & McIntosh, Prog. Photovolt. 19, 406 (2011): 11.1 %); second hit at 15.8 deg."""
    tree = trace(Texture("regular_upright"), incidence_roots(0.0, 2500), False, 3.6, False, Bins(45, 1))
    first = tree.depth_slices[0]
    assert tree.angle[first].tolist() == [round(54.74 / 0.25)]
    second = (tree.parent == 0) & (tree.branch == 0)
    assert tree.frac[second].sum() == pytest.approx(1.0)
    assert tree.angle[second].tolist() == [round(15.79 / 0.25)]
    s_idx = np.flatnonzero(second)[0]
    third = (tree.parent == s_idx) & (tree.branch == 0)
    assert tree.frac[third].sum() == pytest.approx(0.111, abs=0.01)


def test_bad_input():
    with pytest.raises(ValueError, match="facet_deg"):
        Texture("random_upright", 90)
    with pytest.raises(ValueError, match="unknown kind 'pyramid'"):
        Texture("pyramid")
    n, d, coh = _stack(WL)
    with pytest.raises(ValueError, match="exactly one incoherent"):
        solve_textured(n, d, [True] * 5, WL)


@pytest.mark.parametrize("chunk", [1, 3])
def test_batch_matches_single_designs(chunk, monkeypatch):
    """Designs solved together (``DESIGN_CHUNK`` of them in one pass: shared and separate rear
    interfaces, one product per design against the shared rear) match one-by-one solves."""
    from optics import redistribution

    monkeypatch.setattr(redistribution, "DESIGN_CHUNK", chunk)
    n, d, coh = _stack(WL)
    # designs 0 and 2 share their rear films (one cached rear interface), design 1 has its own
    d3 = np.array([d, [60.0, 500.0, 150e3, 90.0, 200.0], [60.0, 500.0, 150e3, 60.0, 200.0]])
    both = solve_textured(np.array([n, n, n]), d3, coh, WL)
    # two designs that differ in a front film only: one shared rear for the whole pass matrices
    d2 = np.array([d, d]) * [[1, 1, 1, 1, 1], [1.5, 1, 1, 1, 1]]
    pair = solve_textured(np.array([n, n]), d2, coh, WL)
    monkeypatch.setattr(redistribution, "DESIGN_CHUNK", 1)
    for b in range(3):
        one = solve_textured(n, d3[b], coh, WL)
        np.testing.assert_allclose(both.A[b], one.A, atol=1e-12)
        np.testing.assert_allclose(both.T[b], one.T, atol=1e-12)
        np.testing.assert_allclose(both.hit_front[b], one.hit_front, atol=1e-12)
    one = solve_textured(n, d2[1], coh, WL)
    np.testing.assert_allclose(pair.A[1], one.A, atol=1e-12)


@pytest.mark.slow
def test_deterministic():
    n, d, coh = _stack(WL)
    a = solve_textured(n, d, coh, WL).A
    from optics import redistribution
    redistribution.clear_caches()
    b = solve_textured(n, d, coh, WL).A
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["random_upright", "planar"])
def test_facet_averaged_profile_integrates_to_absorptance(kind):
    """The top film's facet-averaged a(z) integrates to its absorptance from solve_textured:
    to 1e-3 where the wafer is opaque (exact angles from outside; the under 2 % of the light that
    meets the films from the wafer there is interpolated), to the angle interpolation elsewhere;
    for a planar texture it is the planar TMM profile."""
    from optics.texture_profile import textured_absorption_profile

    n, d, coh = _stack(WL)
    res = solve_textured(n, d, coh, WL, 1.0, 1.0, Texture(kind), Texture(kind))
    prof_t = textured_absorption_profile(n, d, WL, res, layer=1, dz_nm=2.0)
    a = prof_t.absorption
    integral = prof_t.layer_absorptance(1)
    np.testing.assert_allclose(integral, res.A[1], atol=6e-3)  # interpolated film coefficients
    opaque = WL < 700
    np.testing.assert_allclose(integral[opaque], res.A[1][opaque], rtol=1e-3)
    if kind == "planar":
        prof = optics.absorption_profile(optics.Stack([optics.Layer(n[i], d[i], coh[i]) for i in range(5)]),
                                         WL, dz_nm=2.0, layers=[1])
        np.testing.assert_allclose(a, prof.absorption, atol=5e-5)
        np.testing.assert_allclose(prof_t.field, prof.field, rtol=2e-2)  # rear light at 2.5 deg (bin centre), not 0
    assert np.all(optics.spectral_generation(prof_t) >= 0)


def _ir_wafer_jsc(options, kind="regular_upright"):
    """Photocurrent (mA/cm^2, 1000-1200 nm) of R, T and each layer of air | ITO 70 nm | Si 200 um |
    air with pyramids front and rear: light makes tens of passes, the hardest case for the bins."""
    import nkdata
    from optics.spectra import jsc

    wl = np.arange(1000.0, 1201.0, 40.0)
    n = np.array([nkdata.get("ITO").nk(wl), nkdata.get("Si").nk(wl)])
    res = solve_textured(n, [70.0, 200e3], [True, False], wl, 1.0, 1.0, Texture(kind), Texture(kind), options=options)
    return jsc(np.vstack([res.A, res.R[None], res.T[None]]), wl)


@pytest.mark.slow
@pytest.mark.parametrize("finer", [dict(n_bins=45), dict(n_phi=6), dict(rays_per_bin=128),
                                   dict(rays_first_pass=8192, first_pass_step_deg=0.1)])
def test_converged_in_bins_and_rays(finer):
    """The default discretisation is converged to 0.06 mA/cm^2 per layer in the weakly absorbed
    near infrared of a bare 200 um wafer, against finer angle bins, more rays per bin and a finer
    first pass (the README states these figures). Before the first pass was traced in exact
    directions and the rays per bin were a Sobol sequence, the transmission moved by 0.3 mA/cm^2."""
    base = _ir_wafer_jsc(TextureOptions())
    fine = _ir_wafer_jsc(TextureOptions(**finer))
    assert np.abs(fine - base).max() < 0.06, (np.round(base, 3), np.round(fine, 3))


def test_parasitic_absorption_takes_its_share_of_the_wafer():
    """Free-carrier absorption equal to the band-to-band one: the light is that of a wafer with
    twice the extinction, of which the wafer's (carrier-generating) absorptance is half."""
    n, d, coh = _stack(WL)
    alpha_bb = 4 * np.pi * n[2].imag / WL
    n2 = n.copy()
    n2[2] = n[2].real + 2j * n[2].imag
    par = solve_textured(n, d, coh, WL, parasitic_alpha_per_nm=alpha_bb)
    dbl = solve_textured(n2, d, coh, WL)
    np.testing.assert_allclose(par.R, dbl.R, atol=1e-4)  # the films see the wafer's k: 1e-6 apart
    np.testing.assert_allclose(par.T, dbl.T, atol=1e-6)
    np.testing.assert_allclose(par.A[2], 0.5 * dbl.A[2], atol=1e-4)
    lost = 1 - par.R - par.T - par.A.sum(0)
    np.testing.assert_allclose(lost, par.A[2], atol=1e-4)
    with pytest.raises(ValueError, match="parasitic"):
        solve_textured(n, d, coh, WL, parasitic_alpha_per_nm=-alpha_bb)
