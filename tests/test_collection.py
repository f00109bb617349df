"""tandem.collection: limits of the analytic drift-diffusion collection, closed-form EQE, transport checks,
and a few points against the drift-diffusion reference (Sesame; skipped without it)."""
import dataclasses

import numpy as np
import pytest

from tandem import collection as col
from tandem.transport import TRANSPORT, Transport

S = np.linspace(0.0, 1.0, 20001)
VT = col.thermal_voltage(298.15)


def eta(arch="pin", d=300.0, vbi=1.2, v=0.0, mu=1.0, tau=1e-6, sf=0.0, sb=0.0, s=S, temperature_k=298.15):
    return col.collection_efficiency(s, arch, d, vbi, v, mu, mu, tau / 2, tau / 2, sf, sb, temperature_k)


@pytest.mark.parametrize("v", [0.0, 0.6, 1.0, 1.15, 1.19])
def test_sokel_hughes_limit(v):
    # no recombination, contacts drain both carriers, uniform generation: coth(a/2) - 2/a
    a = (1.2 - v) / VT
    got = np.trapezoid(eta(v=v, tau=1e4, sf=1e12, sb=1e12), S)
    assert got == pytest.approx(1 / np.tanh(a / 2) - 2 / a, rel=1e-5)


def test_hecht_limit():
    # diffusion negligible (T -> 0 at fixed drift): u = (L/d)(1 - exp(-(distance to own contact) / L)) per carrier
    mu, tau, d = 1e-3, 2e-8, 300.0
    el = mu * tau * 1.2 / (d * 1e-7) ** 2  # L / d, tau = tau_e + tau_h
    got = eta(d=d, mu=mu, tau=tau, temperature_k=1.0)
    want = el * (1 - np.exp(-(1 - S) / el)) + el * (1 - np.exp(-S / el))
    assert np.max(np.abs(got - want)) < 2e-4


def test_blocking_contacts_without_recombination_collect_everything():
    for v, tol in ((0.0, 1e-5), (1.2, 1e-5), (1.5, 1e-3)):  # beyond V_bi carriers linger: the b^2 floor shows
        e = eta(v=v, tau=1e6)
        assert np.allclose(e, 1.0, atol=tol)


def test_bounds_and_trends():
    e0 = eta(mu=1e-3, tau=2e-8, sf=100, sb=100)
    assert np.all(e0 <= 1 + 1e-12) and np.all(e0 >= 0)
    # forward bias, lower mobility, thicker film: less collection
    assert eta(mu=1e-3, tau=2e-8, v=0.8).mean() < e0.mean()
    assert eta(mu=1e-4, tau=2e-8).mean() < e0.mean()
    assert eta(mu=1e-3, tau=2e-8, d=900).mean() < e0.mean()
    # interface recombination at the wrong contact costs carriers generated next to it
    clean, e_s = eta(mu=1e-2, tau=2e-8), eta(mu=1e-2, tau=2e-8, sf=1e5)
    assert e_s[0] < clean[0] - 0.05 and abs(e_s[-1] - clean[-1]) < 1e-3


def test_pin_nip_mirror():
    a = eta(arch="pin", mu=1e-2, tau=1e-8, sf=10, sb=1000)
    b = eta(arch="nip", mu=1e-2, tau=1e-8, sf=1000, sb=10)
    assert np.allclose(a, b[::-1], atol=1e-9)


def test_wafer_hovel():
    d, mu, tau, sf = 150e3, 450.0, 1e-3, 100.0
    e = col.collection_efficiency(S, "wafer", d, 0.7, 0.0, 1300.0, mu, tau, tau, sf, 0.0)
    dh = mu * VT
    ld = np.sqrt(dh * tau) * 1e7  # nm
    g = sf * ld * 1e-7 / dh
    x = S * d / ld
    want = (np.cosh(x) + g * np.sinh(x)) / (np.cosh(d / ld) + g * np.sinh(d / ld))
    assert np.allclose(e, want, rtol=1e-9)
    assert 0.8 < e[0] < e[-1] <= 1.0


def test_closed_form_integral_matches_quadrature():
    rng = np.random.default_rng(1)
    for _ in range(20):
        d = rng.uniform(50, 3000)
        alpha, kr = rng.uniform(1e-5, 0.05), rng.uniform(0.005, 0.05)
        cf, cb = rng.uniform(0, 1e-3, 2)
        co = (rng.normal() + 1j * rng.normal()) * 1e-4
        prof = col.profile_terms(np.array(alpha * d), np.array(kr * d), np.array(cf * d), np.array(cb * d),
                                 np.array(co * d))
        et = col.eta_terms(rng.choice(["pin", "nip"]), np.array(d), 1.2, rng.uniform(-0.5, 1.3),
                           10 ** rng.uniform(-4, 0), 10 ** rng.uniform(-4, 0), 1e-8, 3e-8,
                           10 ** rng.uniform(0, 5), 10 ** rng.uniform(0, 5))
        z = S * d
        a = cf * np.exp(-alpha * z) + cb * np.exp(-alpha * (d - z)) + (co * np.exp(-2j * kr * z)).real
        e = col._evaluate_terms(et, S)
        want = np.trapezoid(a * e, z)
        got = float(col.collected_eqe(et, prof))
        assert got == pytest.approx(want, rel=1e-4, abs=1e-10)  # trapezoid error at thin boundary layers
    # eta = 1: the layer absorptance itself; thick absorbers do not overflow
    prof = col.profile_terms(np.array([1e4]), np.array([3e3]), np.array([0.5e4 * 1e-3]), np.array([0.0]),
                             np.array([0j]))
    one = [(np.ones(1), np.zeros(1), np.zeros(1))]
    assert np.isfinite(col.collected_eqe(one, prof)).all()


def test_recombination_scale():
    assert col.recombination_scale(350, 350, 1e-8, 1e-8, 100, 100) == pytest.approx(1.0)
    assert col.recombination_scale(700, 350, 1e-8, 1e-8, 0, 0) == pytest.approx(2.0)
    # interface-dominated: nearly flat in thickness
    assert col.recombination_scale(700, 350, 1e-3, 1e-3, 1e4, 1e4) == pytest.approx(1.0, abs=1e-3)


def test_transport_presets_cited_and_valid():
    for name, t in TRANSPORT.items():
        assert "doi:" in t.reference, name
        t.check(name)


@pytest.mark.parametrize("key,value,msg", [
    ("mobility_e_cm2_vs", 0.0, "mobility_e_cm2_vs"), ("lifetime_h_ns", float("nan"), "lifetime_h_ns"),
    ("vbi_v", -1.0, "vbi_v"), ("architecture", "pn", "architecture"), ("s_front_cm_s", -1.0, "s_front_cm_s"),
])
def test_transport_bad_values_name_the_key(key, value, msg):
    with pytest.raises(ValueError, match=f"top: {msg}"):
        TRANSPORT["CsPbI3_QD"].with_overrides("top", **{key: value})


def test_vbi_above_gap_and_unknown_key():
    with pytest.raises(ValueError, match="vbi_v .* below the absorber gap"):
        TRANSPORT["CsPbI3_QD"].with_overrides("top", vbi_v=2.0).check("top", bandgap_ev=1.75)
    with pytest.raises(ValueError, match="unknown transport key 'mobility'"):
        TRANSPORT["CsPbI3_QD"].with_overrides("top", mobility=1.0)


# ----------------------------------------------------------------------------------------------
# against the drift-diffusion reference
# ----------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("mu,d", [(1.0, 700.0), (0.1, 350.0)])
def test_short_circuit_current_matches_drift_diffusion(mu, d):
    pytest.importorskip("solsesame", reason="drift-diffusion reference: pip install -e '.[dd]'")
    from optics.spectra import Q_E
    from tandem import drift_diffusion as dd

    tr = dataclasses.replace(TRANSPORT["CsPbI3_QD"], mobility_e_cm2_vs=mu, mobility_h_cm2_vs=mu)
    z = np.linspace(0, d, 801)
    g = 2.7e21 * np.exp(-z / 150.0) / 150.0 * 1e7 * 1e-7 * 1e0  # Beer-Lambert, photons s^-1 cm^-3
    j_dd = dd.sesame_jv(d, tr, 1.75, z, g, [0.0])[0]
    e = col.collection_efficiency(z / d, tr.architecture, d, tr.vbi_v, 0.0, mu, mu, tr.lifetime_e_ns * 1e-9,
                                  tr.lifetime_h_ns * 1e-9, tr.s_front_cm_s, tr.s_back_cm_s)
    j_fast = Q_E * np.trapezoid(g * e, z * 1e-7) * 1e3
    assert j_fast == pytest.approx(j_dd, rel=0.03)
