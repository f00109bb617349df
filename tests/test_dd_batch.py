"""Batched Poisson drift-diffusion solver (tandem.dd_batch): Jacobian, conservation, limits, wiring.

Its agreement with Sesame over the whole thickness x mobility grid is in tests/test_collection_reference.py.
"""
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from optics import generation_profile
from optics.spectra import K_B, Q_E
from tandem import dd_batch as db
from tandem.transport import TRANSPORT

DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(DATA.parents[1] / "benchmarks"))

from bench_collection import BANDGAP, closed_form_jph, generation  # noqa: E402


def _tr(mu, **kw):
    return dataclasses.replace(TRANSPORT["CsPbI3_QD"], mobility_e_cm2_vs=mu, mobility_h_cm2_vs=mu, **kw)


def _problem(mu, d, light=1.0):
    z, g = generation(d)
    s = db.mesh()
    gb = db.box_generation(s, z, g, d)[None] * light
    t = _tr(mu)
    one = lambda x: np.array([x], dtype=float)  # noqa: E731
    return db._Problem(one(d), one(mu), one(mu), one(t.lifetime_e_ns * 1e-9), one(t.lifetime_h_ns * 1e-9),
                       one(t.s_front_cm_s), one(t.s_back_cm_s), one(t.vbi_v), one(BANDGAP), gb, one(298.15), s), s


@pytest.mark.parametrize("mu,d,v", [(1e-3, 700.0, 0.0), (1e-1, 300.0, 0.8), (1e-2, 1000.0, -1.0)])
def test_analytic_jacobian_matches_finite_differences(mu, d, v):
    prob, s = _problem(mu, d)
    rng = np.random.default_rng(1)
    u, _ = db._start(prob, s)
    u = u + rng.normal(0, 0.3, u.shape)  # away from the solution, where every term matters
    vv = np.array([v])
    r0, J = prob.residual(u, vv)
    n = s.size
    for node in (0, 1, n // 3, n - 2, n - 1):
        for var in range(3):
            h = 1e-6
            up = u.copy()
            up[0, node, var] += h
            um = u.copy()
            um[0, node, var] -= h
            fd = (prob.residual(up, vv, jac=False)[0] - prob.residual(um, vv, jac=False)[0]) / (2 * h)
            for o in (-1, 0, 1):
                row = node - o  # the residual rows of node `row` see `node` at offset o
                if 0 <= row < n:
                    an = J[0, row, :, o + 1, var]
                    # round-off of the difference: the row's terms (contact fluxes) can be large
                    scale = np.abs(J[0, row]).max(axis=(1, 2))
                    err = np.abs(an - fd[0, row])
                    assert np.all(err <= 1e-4 * np.abs(fd[0, row]) + 1e-5 * scale), (node, var, o, an, fd[0, row])


@pytest.mark.parametrize("mu,d", [(1e-4, 500.0), (1e-2, 1500.0), (1.0, 300.0)])
def test_current_is_conserved(mu, d):
    """J = q (F_p - F_n) is the same at every cell edge, and equals the generation minus the bulk
    and the blocked carriers' interface recombination (particle balance of the whole film)."""
    z, g = generation(d)
    s = db.mesh()
    gb = db.box_generation(s, z, g, d)
    t = _tr(mu)
    j, edges, sols = db.solve([d], [t], [BANDGAP], gb[None], [0.0, 0.6], full=True)
    assert np.all(np.isfinite(j))
    for k in range(2):
        assert np.ptp(edges[0, k]) < 1e-9 * abs(j[0, 0])
    # balance from the solution, recomputed here: n, p from the potentials, SRH, interface losses
    vt = K_B * 298.15 / Q_E
    eg = BANDGAP / vt
    psi, a, b = sols[0, 0].T
    n = db.NC_CM3 * np.exp(psi + a)
    p = db.NC_CM3 * np.exp(-eg - psi - b)
    ni = db.NC_CM3 * np.exp(-eg / 2)
    rec = (n * p - ni**2) / (t.lifetime_h_ns * 1e-9 * (n + ni) + t.lifetime_e_ns * 1e-9 * (p + ni))
    h = np.diff(s) * d * 1e-7
    hb = np.concatenate([[h[0] / 2], (h[1:] + h[:-1]) / 2, [h[-1] / 2]])
    off = (BANDGAP - t.vbi_v) / 2 / vt
    p0_e, n0_h = db.NC_CM3 * np.exp(-(eg - off)), db.NC_CM3 * np.exp(-(eg - off))
    surface = t.s_front_cm_s * (p[0] - p0_e) + t.s_back_cm_s * (n[-1] - n0_h)  # nip: holes at the front
    balance = Q_E * (gb.sum() - np.sum(rec * hb) - surface) * 1e3
    assert j[0, 0] == pytest.approx(balance, rel=1e-6)
    assert j[0, 0] < Q_E * gb.sum() * 1e3


@pytest.mark.parametrize("d", [100.0, 350.0, 700.0])
def test_reduces_to_the_closed_form_at_high_mobility(d):
    """Fast carriers (drift length >> film): both the drift-diffusion and the closed-form
    collection approach full collection, and they agree within 0.3 %, also under bias."""
    z, g = generation(d)
    t = _tr(10.0)
    volts = [0.0, 0.6, -0.5]
    j_dd = db.photocurrent(d, t, BANDGAP, z, g, volts)
    j_cf = closed_form_jph(t, d, z, g, volts)
    assert j_dd == pytest.approx(j_cf, rel=3e-3)


def test_batch_rows_are_independent_and_pin_mirrors_nip():
    """A row's result does not depend on the rest of the batch (one banded system holds them all),
    and a p-i-n film lit from its hole contact is the n-i-p film with the profile reversed and
    the two interface velocities swapped."""
    s = db.mesh()
    z, g = generation(700.0)
    gb = db.box_generation(s, z, g, 700.0)
    t1, t2 = _tr(1e-3), _tr(1e-1, s_front_cm_s=1000.0, s_back_cm_s=10.0)
    alone = db.solve([700.0], [t1], [BANDGAP], gb[None], [0.0, 0.5])
    both = db.solve([700.0, 400.0], [t1, t2], [BANDGAP] * 2, np.stack([gb, gb * 0.5]), [0.0, 0.5])
    assert both[0] == pytest.approx(alone[0], rel=1e-9)
    pin = dataclasses.replace(t2, architecture="pin", s_front_cm_s=10.0, s_back_cm_s=1000.0)
    j_nip = db.solve([700.0], [t2], [BANDGAP], gb[None, ::-1], [0.0, 0.5])
    j_pin = db.solve([700.0], [pin], [BANDGAP], gb[None], [0.0, 0.5])
    assert j_pin == pytest.approx(j_nip, rel=1e-9)


def test_slow_films_are_the_drift_diffusion_rows():
    t = _tr(1e-2)
    mask = db.slow_rows([t, t, TRANSPORT["Si_HJT"]], [200.0, 1000.0, 1e5])
    assert mask.tolist() == [False, True, False]  # drift length / film 3.25 -> 0.13; wafers never
    assert db.drift_over_film(t, 200.0) > db.DRIFT_RATIO_MIN > db.drift_over_film(t, 1000.0)


def test_profile_box_generation_is_the_exact_integral():
    """Boxes of one exponential profile add up to its integral and match the sampled profile."""
    alpha_d, c = 8.0, 2.0
    prof = [(np.array([[c]]), np.array([[-alpha_d]]), np.array([[0.0]]))]
    s = db.mesh()
    gb = db.profile_box_generation(prof, np.array([[Q_E * 1e3]]), s)[0]  # weight: 1 photon/cm^2/s per unit
    assert gb.sum() == pytest.approx(c * (1 - np.exp(-alpha_d)) / alpha_d, rel=1e-12)
    edges = np.concatenate([[0.0], (s[1:] + s[:-1]) / 2, [1.0]])
    exact = c * (np.exp(-alpha_d * edges[:-1]) - np.exp(-alpha_d * edges[1:])) / alpha_d
    assert gb == pytest.approx(exact, rel=1e-10)


def test_evaluate_batch_uses_drift_diffusion_for_slow_films():
    """A slow, thick cell in evaluate_batch gets the drift-diffusion photocurrent of its own optics
    (Jph within 1.5 % of dd_batch fed generation_profile's sampled G, where the closed form is 30 %
    lower), and a fast cell keeps the closed form."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_collection_device import cspbi3_cell
    from tandem import evaluate_batch

    slow = cspbi3_cell(1000, transport={"mobility_e_cm2_vs": 1e-2, "mobility_h_cm2_vs": 1e-2})
    fast = cspbi3_cell(400)
    r = evaluate_batch([slow, fast], with_cri=False)
    t = slow.transport(slow.top)
    gp = generation_profile(slow.stack, slow.wavelengths(), dz_nm=2.5, layers=[3])
    z = np.concatenate([[0.0], gp.z_nm - gp.z_nm[0] + gp.dz_nm[0] / 2, [1000.0]])
    g = np.concatenate([gp.generation[:1], gp.generation, gp.generation[-1:]])
    eg = slow.stack.layers[3].material.bandgap_ev
    j_dd = db.photocurrent(1000.0, t, eg, z, g, [0.0])[0]
    j_cf = closed_form_jph(t, 1000.0, z, g, [0.0])[0]
    assert r[0].top.jph_ma_cm2 == pytest.approx(j_dd, rel=0.015)
    assert j_cf < 0.8 * j_dd
    tf = fast.transport(fast.top)
    assert not db.slow_rows([tf], [400.0])[0]
    assert r[1].top.jph_ma_cm2 < r[1].top.jph_ideal_ma_cm2


def test_a_failing_row_is_nan_and_leaves_the_others_alone():
    """All rows share one banded LU: a row whose residual goes non-finite is frozen as failed (NaN)
    instead of spreading NaN through the elimination to its neighbours."""
    s = db.mesh()
    z, g = generation(500.0)
    gb = db.box_generation(s, z, g, 500.0)
    t = _tr(1e-2)
    alone = db.solve([500.0], [t], [BANDGAP], gb[None], [0.0, 0.4])
    broken = gb.copy()
    broken[5] = np.nan
    both = db.solve([500.0, 500.0, 500.0], [t] * 3, [BANDGAP] * 3, np.stack([gb, broken, gb]), [0.0, 0.4])
    assert np.all(np.isnan(both[1]))
    assert both[0] == pytest.approx(alone[0], rel=1e-9) and both[2] == pytest.approx(alone[0], rel=1e-9)


def test_space_charge_matters_in_thick_slow_films():
    """Left out of Poisson's equation (the closed form's uniform field, same pair recombination),
    the carriers' charge costs the agreement with Sesame where the film is much thicker than the
    drift length: 1e-3 cm^2/V s, 1500 nm collects 1.56x Sesame with a uniform field, 1.00x with it;
    the bulk field there departs from (V_bi - V) / d by more than 20 %."""
    import csv

    with open(DATA / "sesame_collection_reference.csv", encoding="utf-8") as f:
        ref = {(float(r["mobility_cm2_vs"]), float(r["thickness_nm"])): float(r["jsc_dd_ma_cm2"])
               for r in csv.DictReader(x for x in f if not x.startswith("#")) if r["case"] == "grid"}
    s = db.mesh()
    for mu, d, uniform_over in ((1e-3, 1500.0, 1.4), (1e-2, 1500.0, 1.15)):
        z, g = generation(d)
        gb = db.box_generation(s, z, g, d)[None]
        j, _, sol = db.solve([d], [_tr(mu)], [BANDGAP], gb, [0.0], full=True)
        j_uniform = db.solve([d], [_tr(mu)], [BANDGAP], gb, [0.0], space_charge=False)
        assert j[0, 0] == pytest.approx(ref[mu, d], rel=0.01)
        assert j_uniform[0, 0] > uniform_over * ref[mu, d]
        psi = sol[0, 0, :, 0]
        field = -np.diff(psi) / np.diff(s) / -(psi[-1] - psi[0])
        mid = (s[1:] + s[:-1]) / 2
        assert np.ptp(field[(mid > 0.1) & (mid < 0.9)]) > 0.3


def test_random_films_all_converge_and_conserve_current():
    """Newton converges (with its voltage continuation) over a wide parameter space: mobilities
    1e-5-3 cm^2/V s (unequal), lifetimes 1-1000 ns, V_bi 0.6-1.5 V with the contacts 0.1-0.4 eV
    from the band edges, S 0.1-1e4 cm/s, p-i-n and n-i-p, 50-2000 nm, Beer-Lambert light, at
    0 V and the 21 junction-voltage nodes (280 such films converged when this was written)."""
    from tandem import collection as col

    rng = np.random.default_rng(7)
    s = db.mesh()
    ts, gbs, ds, egs = [], [], [], []
    for _ in range(12):
        mu, tau, vbi = 10 ** rng.uniform(-5, 0.5), 10 ** rng.uniform(0, 3), rng.uniform(0.6, 1.5)
        d = 10 ** rng.uniform(np.log10(50), np.log10(2000))
        ts.append(dataclasses.replace(
            TRANSPORT["CsPbI3_QD"], mobility_e_cm2_vs=mu * 10 ** rng.uniform(-1, 1), mobility_h_cm2_vs=mu,
            lifetime_e_ns=tau, lifetime_h_ns=tau * 10 ** rng.uniform(-1, 1), vbi_v=vbi, vbi_deficit_v=None,
            architecture=str(rng.choice(["pin", "nip"])), s_front_cm_s=10 ** rng.uniform(-1, 4),
            s_back_cm_s=10 ** rng.uniform(-1, 4)))
        alpha = 10 ** rng.uniform(3.5, 5.5)
        z = np.linspace(0, d, 400)
        gbs.append(db.box_generation(s, z, 2e16 * alpha * np.exp(-alpha * z * 1e-7), d))
        ds.append(d)
        egs.append(vbi + rng.uniform(0.2, 0.8))
    vt = col.thermal_voltage(298.15)
    volts = np.array([np.concatenate([[0.0], t.vbi_v - col.VOLTAGE_NODES_KT * vt]) for t in ts])
    j, edges, _ = db.solve(np.array(ds), ts, np.array(egs), np.array(gbs), volts, full=True)
    assert np.all(np.isfinite(j))
    jgen = Q_E * np.array(gbs).sum(axis=1) * 1e3
    assert np.all(np.ptp(edges, axis=2) < 1e-8 * jgen[:, None])
    assert np.all(j[:, 0] <= jgen) and np.all(j[:, 0] > 0)
