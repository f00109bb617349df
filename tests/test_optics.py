"""optics against the tmm package, analytic limits and bad input."""
import warnings

import numpy as np
import pytest
import tmm
from hypothesis import assume, given, settings, strategies as st

from optics import Layer, Stack, absorption_profile, generation_profile, jsc, eqe, solve, solve_arrays
from optics.spectra import HC_EV_NM

TOL = 1e-9

# --- random stacks -------------------------------------------------------------

index_st = st.builds(
    complex,
    st.floats(1.0, 4.5),
    st.one_of(st.just(0.0), st.floats(0.0, 0.5), st.floats(0.0, 5.0)),
)
metal_st = st.builds(complex, st.floats(0.05, 0.9), st.floats(1.0, 8.0))
thickness_st = st.one_of(st.just(0.0), st.floats(0.05, 600.0))  # below 0.01 nm is refused as a unit slip
layer_st = st.tuples(st.one_of(index_st, index_st, metal_st), thickness_st, st.booleans())


def _tmm_reference(layers, n0, nf, wl, angle, pol):
    n_list = [n0] + [l[0] for l in layers] + [nf]
    d_list = [np.inf] + [l[1] for l in layers] + [np.inf]
    c_list = ["i"] + ["c" if l[2] else "i" for l in layers] + ["i"]
    th = np.deg2rad(angle)
    R = np.zeros(len(wl)); T = np.zeros(len(wl)); A = np.zeros((len(layers), len(wl)))
    for w, lam in enumerate(wl):
        if all(c == "c" for c in c_list[1:-1]):
            data = tmm.coh_tmm(pol, n_list, d_list, th, lam)
            a = tmm.absorp_in_each_layer(data)
        else:
            data = tmm.inc_tmm(pol, n_list, d_list, c_list, th, lam)
            a = tmm.inc_absorp_in_each_layer(data)
        R[w], T[w], A[:, w] = data["R"], data["T"], np.asarray(a[1:-1])
    return R, T, A


@settings(max_examples=60, deadline=None)
@given(
    layers=st.lists(layer_st, min_size=1, max_size=5),
    n0=st.floats(1.0, 2.0),
    nf=index_st,
    angle=st.floats(0.0, 80.0),
    pol=st.sampled_from(["s", "p"]),
)
def test_matches_tmm_random_stacks(layers, n0, nf, angle, pol):
    # incoherent layers are thick and weakly absorbing, as glass or wafers
    layers = [(n if c else complex(n.real, min(n.imag, 1e-3)), d if c else 1e4 + 1e3 * d, c)
              for n, d, c in layers]
    # beyond total internal reflection into or behind a thick incoherent layer tmm's
    # intensity matrices divide by T = 0; that case has its own test below
    xi = n0 * np.sin(np.deg2rad(angle))
    assume(all(n.real > xi + 0.05 for n, _, c in layers if not c))
    assume(all(c for _, _, c in layers) or nf.real > xi + 0.05)
    wl = np.array([350.0, 523.0, 800.0, 1100.0])
    stack = Stack([Layer(n, d, coherent=c) for n, d, c in layers], incident=n0, exit=nf)
    res = solve(stack, wl, angle, pol)
    R, T, A = _tmm_reference(layers, n0, nf, wl, angle, pol)
    # tmm's incoherent intensity matrices divide by 1 - R_front R_back of each thick layer; when
    # light tunnels into it through evanescent gaps (R -> 1 on both sides) tmm loses digits as
    # eps / (1 - R) (see test_frustrated_tir_incoherent_exact), so the tolerance follows that
    tol = np.minimum(TOL + 1e-16 / np.maximum(1.0 - R, 1e-16), 1e-6)
    for ours, ref in ((res.R, R), (res.T, T), (res.A, A)):
        assert np.all(np.abs(ours - ref) <= tol), (ours, ref, tol)
    assert np.all(res.A >= 0)
    np.testing.assert_allclose(res.R + res.T + res.A.sum(0), 1.0, atol=1e-10, rtol=0)


@settings(max_examples=40, deadline=None)
@given(
    layers=st.lists(st.tuples(st.one_of(index_st, index_st, metal_st), thickness_st), min_size=0, max_size=5),
    n0=st.floats(1.0, 3.6),
    nf=st.one_of(index_st, st.just(1.0 + 0j)),
)
def test_unpolarized_rta_matches_tmm(layers, n0, nf):
    """The facet solver of textures (s and p at once, powers only) against the tmm package at several
    angles, beyond total internal reflection into the exit medium included."""
    from optics.tmm import unpolarized_rta

    wl = np.array([350.0, 800.0])
    angles = np.array([0.0, 30.0, 60.0, 85.0])
    n = np.array([n0] + [m for m, _ in layers] + [nf], dtype=complex)
    d = np.array([0.0] + [t for _, t in layers] + [0.0])
    # [N, 1, W] indices, [N, 1, W] 2 pi d / lambda, [K, W] xi^2: results [K, W]
    k0d = (2 * np.pi * d)[:, None, None] / wl
    xi2 = (n0 * np.sin(np.radians(angles)))[:, None] ** 2 * np.ones(wl.size)
    R, T, A = unpolarized_rta(np.broadcast_to(n[:, None, None], (n.size, 1, wl.size)), k0d, xi2)
    assert R.shape == T.shape == (angles.size, wl.size) and A.shape == (len(layers), angles.size, wl.size)
    for i, ang in enumerate(angles):
        ref = [_tmm_reference([(m, t, True) for m, t in layers], n0, nf, wl, ang, pol) for pol in ("s", "p")]
        for ours, k in ((R[i], 0), (T[i], 1), (A[:, i], 2)):
            np.testing.assert_allclose(ours, 0.5 * (ref[0][k] + ref[1][k]), atol=1e-9, rtol=0)
    assert np.all(A >= 0)
    np.testing.assert_allclose(R + T + A.sum(0), 1.0, atol=1e-10, rtol=0)


def test_frustrated_tir_incoherent_exact():
    """Light tunnelling through two 295 nm air gaps into and out of a thick incoherent layer.
    The reference R was computed with 50-digit arithmetic (mpmath; characteristic matrices of
    the coherent parts, then the incoherent sums): tmm's double-precision inc_tmm gives
    0.99999996577 here, 1.2e-9 off, which a hypothesis run found."""
    layers = [(1.0, 295.0, True), (4.5, 1e4, False), (1.0, 296.0, True), (3.0, 1e4, False)]
    stack = Stack([Layer(complex(n), d, coherent=c) for n, d, c in layers], incident=1.9375, exit=2.0)
    res = solve(stack, np.array([350.0]), 78.0, "s")
    np.testing.assert_allclose(res.R, 0.99999996700091780226, atol=1e-14, rtol=0)
    np.testing.assert_allclose(res.T, 3.2999082197735035e-08, rtol=1e-6)


def _tmm_inc_profile(layer, data, z):
    """tmm.inc_find_absorp_analytic_fn(layer, data).run(z), summing the forward and
    backward parts itself: tmm's ``add`` demands bit-equal wavevectors of the two
    solves and raises on round-off at oblique incidence."""
    stack, within = data["stack_from_all"][layer]
    fwd = tmm.absorp_analytic_fn()
    fwd.fill_in(data["coh_tmm_data_list"][stack], within)
    fwd.scale(data["stackFB_list"][stack][0])
    bwd = tmm.absorp_analytic_fn()
    bwd.fill_in(data["coh_tmm_bdata_list"][stack], -1 - within)
    bwd.scale(data["stackFB_list"][stack][1])
    bwd.flip()
    return fwd.run(z) + bwd.run(z)


@settings(max_examples=25, deadline=None)
@given(
    # tmm's analytic profile function rejects lossless layers, so k > 0 here
    layers=st.lists(st.tuples(st.builds(complex, st.floats(1.0, 4.5), st.floats(1e-3, 3.0)),
                              st.floats(1.0, 300.0)), min_size=1, max_size=4),
    glass_front=st.booleans(),
    angle=st.floats(0.0, 80.0),
    pol=st.sampled_from(["s", "p"]),
)
def test_profile_matches_tmm(layers, glass_front, angle, pol):
    wl = np.array([420.0, 700.0])
    lay = [Layer(n, d) for n, d in layers]
    n_list = [1.0] + [n for n, _ in layers] + [1.0]
    d_list = [np.inf] + [d for _, d in layers] + [np.inf]
    c_list = ["i"] + ["c"] * len(layers) + ["i"]
    offset = 0
    if glass_front:
        lay = [Layer(1.5 + 1e-5j, 1e5, coherent=False)] + lay
        n_list.insert(1, 1.5 + 1e-5j); d_list.insert(1, 1e5); c_list.insert(1, "i")
        offset = 1
    stack = Stack(lay)
    prof = absorption_profile(stack, wl, dz_nm=7.0, angle_deg=angle, polarization=pol)
    th = np.deg2rad(angle)
    for w, lam in enumerate(wl):
        data = tmm.inc_tmm(pol, n_list, d_list, c_list, th, lam)
        for j in range(offset, len(lay)):
            sel = prof.layer_index == j
            z = prof.z_nm[sel] - prof.boundaries_nm[j]
            ref = _tmm_inc_profile(j + 1, data, z)
            np.testing.assert_allclose(prof.absorption[sel, w], ref, atol=TOL, rtol=0)


# --- analytic limits ----------------------------------------------------------

def test_fresnel_single_interface():
    n1, n2 = 1.0, 1.5
    for ang in (0.0, 30.0, 60.0):
        th1 = np.deg2rad(ang)
        th2 = np.arcsin(n1 * np.sin(th1) / n2)
        rs = (n1 * np.cos(th1) - n2 * np.cos(th2)) / (n1 * np.cos(th1) + n2 * np.cos(th2))
        rp = (n2 * np.cos(th1) - n1 * np.cos(th2)) / (n2 * np.cos(th1) + n1 * np.cos(th2))
        stack = Stack([], incident=n1, exit=n2)
        assert solve(stack, [500], ang, "s").R[0] == pytest.approx(rs ** 2, abs=1e-14)
        assert solve(stack, [500], ang, "p").R[0] == pytest.approx(rp ** 2, abs=1e-14)


def test_brewster_angle_p_reflection_vanishes():
    n1, n2 = 1.0, 1.5
    brewster = np.rad2deg(np.arctan(n2 / n1))
    res = solve(Stack([], incident=n1, exit=n2), [500.0], brewster, "p")
    assert res.R[0] < 1e-12


def test_quarter_wave_stack_reflectance():
    nH, nL, ns, N, lam0 = 2.3, 1.38, 1.52, 6, 550.0
    layers = []
    for _ in range(N):
        layers += [Layer(nH, lam0 / (4 * nH)), Layer(nL, lam0 / (4 * nL))]
    y = (nH / nL) ** (2 * N) * ns
    expected = ((1 - y) / (1 + y)) ** 2
    assert solve(Stack(layers, 1.0, ns), [lam0]).R[0] == pytest.approx(expected, abs=1e-12)


def test_zero_thickness_layer_changes_nothing():
    base = [Layer(2.0 + 0.1j, 120.0), Layer(1.5, 80.0)]
    with_zero = [base[0], Layer(3.0 + 2.0j, 0.0), base[1]]
    wl = np.linspace(300, 1200, 31)
    a = solve(Stack(base, 1.0, 1.5), wl, 30)
    b = solve(Stack(with_zero, 1.0, 1.5), wl, 30)
    np.testing.assert_allclose(a.R, b.R, atol=1e-13)
    np.testing.assert_allclose(a.T, b.T, atol=1e-13)
    assert np.all(b.A[1] == 0)


def test_split_layer_invariance():
    wl = np.linspace(300, 1200, 46)
    whole = Stack([Layer(1.9 + 0.02j, 150), Layer(2.6 + 0.4j, 400), Layer(0.1 + 4j, 100)])
    split = Stack([Layer(1.9 + 0.02j, 150)] + [Layer(2.6 + 0.4j, 100)] * 4 + [Layer(0.1 + 4j, 100)])
    for ang, pol in ((0, "s"), (40, "s"), (40, "p")):
        a, b = solve(whole, wl, ang, pol), solve(split, wl, ang, pol)
        np.testing.assert_allclose(a.R, b.R, atol=1e-10)
        np.testing.assert_allclose(a.T, b.T, atol=1e-10)
        np.testing.assert_allclose(a.A[1], b.A[1:5].sum(0), atol=1e-10)


def test_beer_lambert_index_matched_incoherent_layer():
    k, d = 1e-3, 2e5
    wl = np.array([400.0, 600.0, 900.0])
    res = solve(Stack([Layer(1.5 + 1j * k, d, coherent=False)], 1.5, 1.5), wl)
    P = np.exp(-4 * np.pi * k * d / wl)  # Beer-Lambert single pass, alpha = 4 pi k / lambda
    # the interfaces to n + ik reflect only ~(k / 2n)^2 ~ 1e-7
    np.testing.assert_allclose(res.T, P, rtol=1e-6)
    np.testing.assert_allclose(res.R, 0.0, atol=1e-6)
    np.testing.assert_allclose(res.A[0], 1 - P, rtol=1e-6)


def test_total_internal_reflection_and_evanescent_gap():
    # bulk TIR from glass into air
    res = solve(Stack([], incident=1.5, exit=1.0), [600.0], 60.0, "s")
    assert res.R[0] == pytest.approx(1.0, abs=1e-14)
    # frustrated TIR through a lossless air gap (evanescent in the gap)
    wl = np.array([600.0])
    for pol in "sp":
        res = solve(Stack([Layer(1.0, 100.0)], 1.5, 1.5), wl, 60.0, pol)
        ref = tmm.coh_tmm(pol, [1.5, 1.0, 1.5], [np.inf, 100.0, np.inf], np.deg2rad(60.0), 600.0)
        assert res.R[0] == pytest.approx(ref["R"], abs=TOL)
        assert res.T[0] == pytest.approx(ref["T"], abs=TOL)
        assert 0 < res.T[0] < 1
        assert res.A[0, 0] == 0


def test_total_internal_reflection_into_thick_incoherent_layer():
    # glass (2.0) -> thick air gap (incoherent) at 40 deg: beyond the critical angle
    stack = Stack([Layer(1.0, 5e4, coherent=False), Layer(2.0, 1e5, coherent=False)], 2.0, 2.0)
    res = solve(stack, [500.0, 900.0], 40.0)
    np.testing.assert_allclose(res.R, 1.0, atol=1e-12)
    np.testing.assert_allclose(res.T, 0.0, atol=1e-12)
    # light tunnels through a thin gap into a thick lossless layer, is totally reflected at its
    # back and tunnels out again: nothing absorbs, so all of it returns (R = 1, not 1 - T_gap)
    stack = Stack([Layer(1.0, 415.0), Layer(2.0, 1e5, coherent=False)], 2.0, 1.0)
    for pol in "sp":
        res = solve(stack, [350.0, 600.0], 48.0, pol)
        np.testing.assert_allclose(res.R, 1.0, atol=1e-12)
        np.testing.assert_allclose(res.T, 0.0, atol=1e-12)


def test_metal_with_n_below_one():
    wl = np.array([500.0])
    res = solve(Stack([Layer(0.05 + 3.13j, 50.0)], 1.0, 1.5), wl, 20, "p")
    ref = tmm.coh_tmm("p", [1.0, 0.05 + 3.13j, 1.5], [np.inf, 50.0, np.inf], np.deg2rad(20), 500.0)
    assert res.R[0] == pytest.approx(ref["R"], abs=TOL)
    assert res.T[0] == pytest.approx(ref["T"], abs=TOL)


@pytest.mark.parametrize("material,thickness", [(5.0 + 4.2j, 5e4), (0.05 + 3.13j, 1e6)])
def test_opaque_coherent_layer_is_finite(material, thickness):
    """50 um of Si at 300 nm, 1 mm of Ag as coherent: exp(Im(kz) d) overflows naively."""
    wl = np.array([300.0, 500.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = solve(Stack([Layer(material, thickness)], 1.0, 1.0), wl, 30.0)
        semi = solve(Stack([], 1.0, material), wl, 30.0)
    assert np.all(np.isfinite(res.R)) and np.all(np.isfinite(res.A))
    np.testing.assert_allclose(res.R, semi.R, atol=1e-12)
    np.testing.assert_allclose(res.T, 0.0, atol=1e-300)
    np.testing.assert_allclose(res.R + res.A.sum(0), 1.0, atol=1e-12)


def test_near_grazing_incidence():
    stack = Stack([Layer(2.0 + 0.1j, 100.0), Layer(1.46, 200.0)], 1.0, 1.5)
    wl = np.array([450.0, 800.0])
    for pol in "sp":
        res = solve(stack, wl, 89.0, pol)
        R, T, A = _tmm_reference([(2.0 + 0.1j, 100.0, True), (1.46, 200.0, True)], 1.0, 1.5, wl, 89.0, pol)
        np.testing.assert_allclose(res.R, R, atol=TOL)
        np.testing.assert_allclose(res.A, A, atol=TOL)
        assert np.all(res.R > 0.8)


def test_absorbing_incident_medium_at_oblique_incidence_rejected():
    with pytest.raises(ValueError, match="incident medium absorbs"):
        solve(Stack([Layer(2.0, 100)], incident=1.5 + 0.01j), [500.0], 30.0)


def test_batch_equals_single_solves():
    wl = np.linspace(300, 1200, 19)
    stacks = [Stack([Layer(1.9 + 0.02j, 100 + 10 * b), Layer(2.5 + 0.2j * b, 300),
                     Layer(1.5, 1e5, coherent=False)], 1.0, 1.0) for b in range(4)]
    batch = solve(stacks, wl, 25.0)
    assert batch.R.shape == (4, 19) and batch.A.shape == (4, 3, 19)
    for b, s in enumerate(stacks):
        one = solve(s, wl, 25.0)
        np.testing.assert_allclose(batch.A[b], one.A, atol=1e-14)
        np.testing.assert_allclose(batch.R[b], one.R, atol=1e-14)


def test_engine_tmm_returns_same_result_type():
    stack = Stack([Layer(1.52, 1e6, coherent=False), Layer(2.0 + 0.05j, 300)])
    wl = np.array([400.0, 700.0])
    a, b = solve(stack, wl, engine="native"), solve(stack, wl, engine="tmm")
    assert type(a) is type(b) and b.engine == "tmm"
    np.testing.assert_allclose(a.A, b.A, atol=TOL)


def test_generation_profile_integrates_to_jsc():
    wl = np.arange(300.0, 801.0, 5.0)
    stack = Stack([Layer(2.0 + 0.01j, 100), Layer(lambda w: 2.6 + 0.5j * (w < 750), 300), Layer(0.1 + 4j, 100)])
    gen = generation_profile(stack, wl, dz_nm=0.5, layers=[1])
    res = solve(stack, wl)
    photons = np.trapezoid(res.A[1] * np.interp(wl, wl, __import__("optics").am15g_photon_flux(wl)), wl)
    # G [cm^-3 s^-1] * dz [cm] summed = absorbed photons per cm^2 per s
    assert (gen.generation * gen.dz_nm * 1e-7).sum() == pytest.approx(photons * 1e-4, rel=1e-4)
    assert np.all(gen.generation >= 0)
    # the spectral generation G(z, lambda) in each layer cell adds up to that layer's absorbed photons
    from optics import spectral_generation
    from optics.spectra import photon_flux

    prof = absorption_profile(stack, wl, dz_nm=0.5, layers=[1])
    g = spectral_generation(prof, "AM0")                                 # photons s^-1 cm^-3 nm^-1
    per_nm = (g * prof.dz_nm[:, None] * 1e-7).sum(axis=0)                 # photons s^-1 cm^-2 nm^-1
    assert per_nm == pytest.approx(res.A[1] * photon_flux(wl, "AM0") * 1e-4, rel=2e-4)


# --- spectra ------------------------------------------------------------------

@pytest.mark.parametrize("gap,expected", [(1.34, 35.0), (1.12, 43.8)])
def test_step_absorber_jsc(gap, expected):
    wl = np.arange(280.0, 1400.0, 0.5)
    a = (wl <= HC_EV_NM / gap).astype(float)
    assert jsc(a, wl) == pytest.approx(expected, abs=0.15)


def test_eqe_never_exceeds_one_and_absorption_non_negative():
    wl = np.linspace(300, 1200, 91)
    stack = Stack([Layer(1.9 + 0.02j, 150), Layer(2.4 + 0.3j, 400), Layer(1.6 + 0.01j, 150), Layer(0.1 + 4j, 100)])
    res = solve(stack, wl, 60.0)
    assert np.all(res.A >= 0)
    e = eqe(res.A[1], iqe=1.0)
    assert np.all((e >= 0) & (e <= 1))
    with pytest.raises(ValueError):
        eqe(res.A[1], iqe=1.2)


# --- bad input ----------------------------------------------------------------

@pytest.mark.parametrize("d", [-5.0, np.nan, np.inf])
def test_bad_thickness_names_layer(d):
    stack = Stack([Layer(2.0, 100, name="ITO"), Layer(2.1, d, name="SnO2")])
    with pytest.raises(ValueError, match=r"layer 1 \('SnO2'\)"):
        solve(stack, [500.0])


def test_negative_k_rejected_with_convention():
    stack = Stack([Layer(2.0 - 0.1j, 100, name="absorber")])
    with pytest.raises(ValueError, match=r"n \+ ik.*k >= 0|absorber.*k < 0"):
        solve(stack, [500.0])


@pytest.mark.parametrize("wl", [[0.0, 500.0], [-1.0], [np.nan]])
def test_bad_wavelength(wl):
    with pytest.raises(ValueError, match="wavelength"):
        solve(Stack([Layer(2.0, 100)]), wl)


def test_thickness_in_metres_detected():
    with pytest.raises(ValueError, match=r"layer 0 \('ITO'\).*in nm"):
        solve(Stack([Layer(2.0, 150e-9, name="ITO")]), [500.0])


def test_micrometres_detected():
    with pytest.raises(ValueError, match="micrometres"):
        solve(Stack([Layer(2.0, 100)]), [0.4, 0.5, 0.6])


@pytest.mark.parametrize("angle", [90.0, 95.0, -1.0])
def test_bad_angle(angle):
    with pytest.raises(ValueError, match="angle"):
        solve(Stack([Layer(2.0, 100)]), [500.0], angle)


def test_shape_mismatches():
    with pytest.raises(ValueError, match="shape"):
        solve_arrays(np.ones((2, 3)), [10.0, 20.0], [True, True], [400.0, 500.0])
    with pytest.raises(ValueError, match="thicknesses"):
        solve_arrays(np.ones((2, 2)), [10.0], [True, True], [400.0, 500.0])
    with pytest.raises(ValueError, match="coherent"):
        solve_arrays(np.ones((2, 2)), [10.0, 20.0], [True], [400.0, 500.0])
    with pytest.raises(ValueError, match="n,k has shape"):
        solve(Stack([Layer(np.ones(3), 10.0)]), [400.0, 500.0])
    with pytest.raises(ValueError, match="different layer count"):
        solve([Stack([Layer(2.0, 10.0)]), Stack([Layer(2.0, 10.0), Layer(2.0, 5.0)])], [500.0])
