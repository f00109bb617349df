"""Fast collection model (tandem.collection) against the Poisson drift-diffusion reference.

A CsPbI3 QD n-i-p cell (glass / ITO 150 / SnO2 30 / QD d / Spiro 200 / Ag 100): the
generation profile G(z) comes from this package's optics (``optics.generation_profile``,
AM1.5G) and is fed unchanged to both models. Over absorber thickness 100-1500 nm and
mobility 1e-4-1 cm^2/V s (both carriers, lifetimes of the CsPbI3_QD preset):

* Jsc: the fast model's current at V = 0 (the closed form q int G eta_c(z, 0) dz, or where the drift
  length is below two films the batched drift-diffusion solver of ``tandem.dd_batch``, as
  ``evaluate_batch`` does) vs the Sesame current at V = 0;
* PCE: the fast J-V is Jph(V) = q int G eta_c(z, V) dz minus a recombination current
  J0(d) (exp(V / n kT) - 1) whose J0 and n are fitted once per mobility to the
  drift-diffusion dark J-V at the reference thickness (350 nm) and scaled to other
  thicknesses by ``tandem.collection.recombination_scale`` (bulk ~ d / tau, interfaces ~ S);
* the thickness of the PCE optimum (parabola through the best grid point and its neighbours).

Run:  PYTHONPATH=$PWD python benchmarks/bench_collection.py [--quick] [--cached]
Needs the optional reference engine (pip install -e ".[dd]"), or ``--cached``: Sesame's J-V curves of
tests/data/sesame_collection_jv.csv (made by tests/data/sesame_collection_jv.py with the same calls).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

import nkdata
from optics import Layer, Stack, generation_profile
from optics.spectra import Q_E
from tandem import collection as col
from tandem import dd_batch
from tandem import drift_diffusion as dd
from tandem.transport import TRANSPORT

BANDGAP = 1.75
VT = col.thermal_voltage(298.15)


def stack(d_nm: float) -> Stack:
    g = nkdata.get
    return Stack([Layer(g("glass"), 1e6, coherent=False), Layer(g("ITO"), 150.0), Layer(g("SnO2"), 30.0),
                  Layer(g("CsPbI3_QD"), d_nm), Layer(g("Spiro-OMeTAD"), 200.0), Layer(g("Ag"), 100.0)])


def generation(d_nm: float):
    gp = generation_profile(stack(d_nm), np.arange(300.0, 800.0, 2.0), dz_nm=max(d_nm / 400, 0.5), layers=[3])
    z = gp.z_nm - gp.z_nm[0] + gp.dz_nm[0] / 2
    # extend to the faces so interpolation covers [0, d]
    z = np.concatenate([[0.0], z, [d_nm]])
    g = np.concatenate([[gp.generation[0]], gp.generation, [gp.generation[-1]]])
    return z, g


def fast_jph(tr, d_nm, z, g, volts):
    """Jph(V) mA/cm^2 of the fast model as evaluate_batch applies it: the closed form
    (``closed_form_jph``) where the drift length is at least ``dd_batch.DRIFT_RATIO_MIN`` films,
    else the batched drift-diffusion photocurrent (light minus dark, ``tandem.dd_batch``)."""
    if dd_batch.slow_rows([tr], [d_nm])[0]:
        return dd_batch.photocurrent(d_nm, tr, BANDGAP, z, g, volts)
    return closed_form_jph(tr, d_nm, z, g, volts)


def closed_form_jph(tr, d_nm, z, g, volts):
    """Jph(V) mA/cm^2 = q int G eta_c dz (eta_c analytic, G sampled on the optics grid)."""
    s = z / d_nm
    eta = col.collection_efficiency(s, tr.architecture, d_nm, tr.vbi_v, np.asarray(volts)[:, None][:, 0],
                                    tr.mobility_e_cm2_vs, tr.mobility_h_cm2_vs, tr.lifetime_e_ns * 1e-9,
                                    tr.lifetime_h_ns * 1e-9, tr.s_front_cm_s, tr.s_back_cm_s)
    return Q_E * np.trapezoid(g * eta, z * 1e-7, axis=-1) * 1e3


def mpp(volts, j):
    ok = np.isfinite(j)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    v, j = volts[ok], j[ok]
    vf = np.linspace(0, v.max(), 4000)
    jf = np.interp(vf, v, j)
    p = vf * jf
    k = int(np.argmax(p))
    return float(p[k]), float(np.interp(0.0, v, j))


def fit_dark(volts, jdark):
    """J0 (mA/cm^2), n from the dark current between 0.05 and 20 mA/cm^2 (log-linear least squares);
    a film too resistive to pass 0.05 mA/cm^2 below 1.5 V is fitted on its three largest currents."""
    jd = -jdark
    m = np.isfinite(jd) & (jd > 0.05) & (jd < 20.0)
    if m.sum() < 2:
        ok = np.flatnonzero(np.isfinite(jd) & (jd > 0))
        m = np.zeros(jd.size, dtype=bool)
        m[ok[-3:]] = True
    if m.sum() < 2:  # the drift-diffusion dark scan did not converge
        return float("nan"), float("nan")
    slope, icpt = np.polyfit(volts[m], np.log(jd[m]), 1)
    n = 1.0 / (slope * VT)
    return float(np.exp(icpt)), float(n)


def optimum(thick, pce):
    k = int(np.nanargmax(pce))
    if 0 < k < len(thick) - 1:
        x, y = np.log(thick[k - 1:k + 2]), pce[k - 1:k + 2]
        a, b, _ = np.polyfit(x, y, 2)
        if a < 0:
            return float(np.exp(-b / (2 * a)))
    return float(thick[k])


VOLTS = np.round(np.arange(0.0, 1.5001, 0.025), 4)
PIN_MW_CM2 = 100.0  # AM1.5G, as the optics' flux


def cached_sesame():
    """(light, dark) J-V lookups from tests/data/sesame_collection_jv.csv (made by the script there)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "sesame_collection_jv.csv"
    light, dark = {}, {}
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(line for line in f if not line.startswith("#")):
            key = float(r["mobility_cm2_vs"])
            table = dark if r["kind"] == "dark" else light
            k = key if r["kind"] == "dark" else (key, float(r["thickness_nm"]))
            table.setdefault(k, []).append((float(r["voltage_v"]), float(r["j_ma_cm2"])))
    to = lambda pairs: np.array([j for _, j in sorted(pairs)])  # noqa: E731
    return (lambda mu, d: to(light[mu, d])), (lambda mu: to(dark[mu]))


def compare(mobs, thick, sesame_light, sesame_dark, log=print):
    """Rows (mu, d, Jsc dd, Jsc fast, PCE dd, PCE fast) and the seconds spent in (Sesame, fast model).

    sesame_light(mu, d), sesame_dark(mu) -> J (mA/cm^2) at VOLTS (the dark one at the reference thickness).
    """
    base = TRANSPORT["CsPbI3_QD"]
    gens = {d: generation(d) for d in thick}
    rows = []
    t_dd = t_fast = 0.0
    for mu in mobs:
        tr = dataclasses.replace(base, mobility_e_cm2_vs=float(mu), mobility_h_cm2_vs=float(mu))
        t0 = time.perf_counter()
        jdark = sesame_dark(mu)
        t_dd += time.perf_counter() - t0
        j0_ref, n_id = fit_dark(VOLTS, jdark)
        for d in thick:
            z, g = gens[d]
            t0 = time.perf_counter()
            j_dd = sesame_light(mu, d)
            t_dd += time.perf_counter() - t0
            t0 = time.perf_counter()
            scale = col.recombination_scale(d, base.reference_nm, tr.lifetime_e_ns * 1e-9, tr.lifetime_h_ns * 1e-9,
                                            tr.s_front_cm_s, tr.s_back_cm_s)
            j_fast = fast_jph(tr, d, z, g, VOLTS) - j0_ref * scale * np.expm1(VOLTS / (n_id * VT))
            t_fast += time.perf_counter() - t0
            p_dd, jsc_dd = mpp(VOLTS, j_dd)
            p_fast, jsc_fast = mpp(VOLTS, j_fast)
            rows.append((mu, d, jsc_dd, jsc_fast, p_dd / PIN_MW_CM2 * 100, p_fast / PIN_MW_CM2 * 100))
            log(f"mu={mu:7.0e} d={d:6.0f}  Jsc dd {jsc_dd:6.2f} fast {jsc_fast:6.2f} "
                f"({(jsc_fast / jsc_dd - 1) * 100:+5.1f} %)  PCE dd {p_dd:5.2f} fast {p_fast:5.2f} %")
    return np.array(rows), t_dd, t_fast


def summary(r, mobs):
    """Per mobility: (mu, max |dJsc| %, max |dPCE| abs %, optimum dd, optimum fast) in nm."""
    out = []
    for mu in mobs:
        m = r[:, 0] == mu
        out.append((mu, np.nanmax(np.abs(r[m, 3] / r[m, 2] - 1)) * 100, np.nanmax(np.abs(r[m, 5] - r[m, 4])),
                    optimum(r[m, 1], r[m, 4]), optimum(r[m, 1], r[m, 5])))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="3 x 3 grid instead of 7 x 5")
    ap.add_argument("--cached", action="store_true",
                    help="Sesame J-V curves from tests/data/sesame_collection_jv.csv instead of running Sesame")
    args = ap.parse_args(argv)
    base = TRANSPORT["CsPbI3_QD"]
    thick = np.array([100, 200, 350, 500, 700, 1000, 1500.0])
    mobs = np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    if args.quick:
        thick, mobs = np.array([200, 350, 700.0]), np.array([1e-3, 1e-1, 1.0])
    if args.cached:
        light, dark = cached_sesame()
    else:
        if not dd.available():
            print("solsesame is not installed: pip install -e '.[dd]' (or use --cached)")
            return 1

        def tr(mu):
            return dataclasses.replace(base, mobility_e_cm2_vs=float(mu), mobility_h_cm2_vs=float(mu))

        def light(mu, d):
            z, g = generation(d)
            return dd.sesame_jv(d, tr(mu), BANDGAP, z, g, VOLTS)

        def dark(mu):
            zr = np.linspace(0, base.reference_nm, 50)
            return dd.sesame_jv(base.reference_nm, tr(mu), BANDGAP, zr, np.zeros_like(zr), VOLTS)

    r, t_dd, t_fast = compare(mobs, thick, light, dark, log=lambda s: print(s, flush=True))
    print("\nmu (cm2/Vs) | max |dJsc| % | max |dPCE| abs % | d_opt dd (nm) | d_opt fast (nm) | d_opt diff %")
    for mu, djsc, dpce, o_dd, o_fast in summary(r, mobs):
        print(f"{mu:10.0e} | {djsc:10.2f} | {dpce:14.2f} | {o_dd:12.0f} | {o_fast:14.0f} | {(o_fast / o_dd - 1) * 100:+8.1f}")
    slow = int(sum(dd_batch.slow_rows([dataclasses.replace(base, mobility_e_cm2_vs=float(m), mobility_h_cm2_vs=float(m))],
                                      [d])[0] for m, d in r[:, :2]))
    what = "reading the cached Sesame curves" if args.cached else "drift-diffusion (Sesame)"
    print(f"\ntime: {what} {t_dd:.1f} s, fast model {t_fast * 1e3:.1f} ms for {len(r)} cells "
          f"({slow} of them through tandem.dd_batch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
