"""Reference engine: a Poisson drift-diffusion solution of one thin-film absorber.

The absorber (undoped, SRH recombination with the ``Transport`` lifetimes, traps at mid-gap)
lies between two selective contacts: Schottky boundaries whose work functions set the
built-in voltage V_bi symmetrically inside the gap, majority carriers extracted at
1e7 cm/s and the blocked carrier recombining at the ``Transport`` interface velocity.
The generation profile G(z) is the user's (from ``optics.generation_profile`` or
``tandem.collection``). Solved with Sesame [Gaury et al., Comput. Phys. Commun. 235, 186
(2019), doi:10.1016/j.cpc.2018.09.002], the solver behind Solcore's "sesame_PDD" junctions
(PyPI ``solsesame``; install with ``pip install "qdtandem[dd]"``).

This is the reference the fast model of ``tandem.collection`` is checked against
(benchmarks/bench_collection.py), and the ``engine="dd"`` path for one design.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np

from .transport import Transport

__all__ = ["available", "sesame_jv", "dd_mesh", "evaluate_dd"]

#: extraction velocity of a contact for the carrier it collects, cm/s
S_EXTRACT = 1e7


def available() -> bool:
    """True if Sesame (PyPI ``solsesame``) can be imported."""
    try:
        import solsesame  # noqa: F401
    except ImportError:
        return False
    return True


def dd_mesh(thickness_nm: float, points: int = 240) -> np.ndarray:
    """Depths (nm) clustered at both faces, where the contact boundary layers are."""
    t = np.linspace(0.0, 1.0, points)
    return thickness_nm * (1 - np.cos(np.pi * t)) / 2


def sesame_jv(thickness_nm: float, transport: Transport, bandgap_ev: float, z_nm, generation_cm3_s,
              voltages_v, temperature_k: float = 298.15, epsilon_r: float = 10.0, nc_cm3: float = 2e18,
              nv_cm3: float = 2e18, radiative_cm3_s: float = 0.0, points: int = 240) -> np.ndarray:
    """Current density (mA/cm^2, positive = generation) at each applied voltage.

    Parameters
    ----------
    thickness_nm : absorber thickness, nm.
    transport : mobilities, lifetimes, V_bi, architecture ("pin"/"nip"), interface velocities.
    bandgap_ev : absorber gap, eV (> V_bi).
    z_nm, generation_cm3_s : the generation rate G(z) (photons absorbed s^-1 cm^-3) at depths
        z_nm from the light-facing side; interpolated onto the solver's mesh.
    voltages_v : increasing applied voltages, V (start at or below 0; the scan continues
        from one voltage to the next).
    epsilon_r, nc_cm3, nv_cm3 : permittivity and band-edge densities of states.
    radiative_cm3_s : radiative coefficient B (cm^3/s), 0 = none.

    Returns
    -------
    ndarray [V], NaN where the Newton iteration did not converge.
    """
    import solsesame
    from solsesame.analyzer import Analyzer

    if transport.architecture not in ("pin", "nip"):
        raise ValueError("the drift-diffusion reference is for thin-film ('pin'/'nip') absorbers")
    if not (0 < transport.vbi_v < bandgap_ev):
        raise ValueError(f"V_bi = {transport.vbi_v} V must lie inside the gap ({bandgap_ev} eV)")
    z = dd_mesh(thickness_nm, points)
    g = np.interp(z, np.asarray(z_nm, dtype=float), np.asarray(generation_cm3_s, dtype=float))
    x_cm = z * 1e-7
    affinity = 4.0
    # the light-facing contact at x = 0: "nip" collects electrons there
    offset = (bandgap_ev - transport.vbi_v) / 2
    wf_n = affinity + offset              # electron contact, near the conduction band
    wf_p = affinity + bandgap_ev - offset  # hole contact, near the valence band
    sys = solsesame.Builder(x_cm, T=temperature_k)
    mat = {"Nc": nc_cm3, "Nv": nv_cm3, "Eg": bandgap_ev, "affinity": affinity, "epsilon": epsilon_r,
           "mu_e": transport.mobility_e_cm2_vs, "mu_h": transport.mobility_h_cm2_vs,
           "tau_e": transport.lifetime_e_ns * 1e-9, "tau_h": transport.lifetime_h_ns * 1e-9,
           "Et": 0.0, "B": radiative_cm3_s}
    sys.add_material(mat)
    sf, sb = transport.s_front_cm_s, transport.s_back_cm_s
    if transport.architecture == "nip":
        sys.contact_type("Schottky", "Schottky", wf_n, wf_p)
        sys.contact_S(S_EXTRACT, max(sf, 1e-3), max(sb, 1e-3), S_EXTRACT)
    else:
        sys.contact_type("Schottky", "Schottky", wf_p, wf_n)
        sys.contact_S(max(sf, 1e-3), S_EXTRACT, S_EXTRACT, max(sb, 1e-3))
    sys.generation(g)
    volts = np.asarray(voltages_v, dtype=float)
    # Sesame applies the voltage to the right contact: forward bias raises the potential of a hole contact there
    sign = 1.0 if transport.architecture == "nip" else -1.0
    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            j, _ = _scan(solsesame, Analyzer, sys, sign * volts)
    finally:
        logging.disable(logging.NOTSET)
    # Sesame's current is along +x; photocurrent flows from the hole contact to the electron contact
    j_macm2 = j * sys.scaling.current * 1e3
    return j_macm2 * (-1.0 if transport.architecture == "pin" else 1.0)


def _scan(solsesame, Analyzer, sys, volts):
    """Voltage continuation with step halving where Newton fails."""
    from solsesame.solvers import Solver

    solver = Solver(use_mumps=False)
    eq = solver.solve(sys, compute="Poisson", verbose=False)
    if eq is None:
        return np.full(volts.size, np.nan), None
    guess = {"efn": np.zeros(sys.nx), "efp": np.zeros(sys.nx), "v": eq["v"]}
    # ramp the light in at zero bias (homotopy on the generation)
    guess = solver.solve(sys, guess=guess, verbose=False, htp=20, maxiter=300)
    out = np.full(volts.size, np.nan)
    if guess is None:
        return out, None
    nx = sys.nx
    v_done = 0.0
    for k, v in enumerate(volts):
        target = v
        step = target - v_done
        tries = 0
        while True:
            trial = dict(guess)
            trial["v"] = guess["v"].copy()
            trial["v"][nx - 1] = solver.equilibrium[nx - 1] + (v_done + step) / sys.scaling.energy
            res = solver.solve(sys, guess=trial, verbose=False, maxiter=200)
            if res is not None:
                guess, v_done = res, v_done + step
                if abs(v_done - target) < 1e-12:
                    break
                step = target - v_done
                continue
            tries += 1
            step /= 2
            if tries > 8:
                break
        if abs(v_done - target) < 1e-12:
            out[k] = Analyzer(sys, guess).full_current()
    return out, guess


def evaluate_dd(design, voltages_v=None, points: int = 240) -> dict:
    """Run the drift-diffusion reference for the thin-film subcell of a single-junction design.

    The generation profile is this package's optics of ``design`` (``optics.generation_profile``
    under the design's spectrum and angle), the transport parameters those the fast model
    uses (``Design.transport``). The recombination is the solver's own: Shockley-Read-Hall
    through mid-gap traps with the transport lifetimes and the interface velocities (the
    preset's ERE, ideality and resistances are not used). The absorber must report its gap.

    Returns
    -------
    dict with voltage_v, current_ma_cm2 (the J-V), jsc_ma_cm2, voc_v, ff_pct, pce_pct.
    """
    from optics import generation_profile
    from optics.spectra import incident_power_mw_cm2

    if design.kind not in ("single", "semitransparent"):
        raise ValueError("engine='dd' runs single-junction designs (one thin-film subcell)")
    cell = design.top
    t = design.transport(cell)
    if t is None or t.architecture == "wafer":
        raise ValueError("engine='dd' needs a thin-film subcell with transport data (architecture 'pin' or 'nip')")
    layer = design.stack.layers[cell.absorber]
    eg = getattr(layer.material, "bandgap_ev", None)
    if eg is None:
        raise ValueError(f"engine='dd': absorber {layer.label!r} does not report its band gap (bandgap_ev)")
    wl = design.wavelengths()
    gp = generation_profile(design.stack, wl, dz_nm=max(layer.thickness_nm / 400, 0.5), angle_deg=design.angle_deg,
                            layers=[cell.absorber], spectrum=design.spectrum)
    d = layer.thickness_nm
    z = np.concatenate([[0.0], gp.z_nm - gp.z_nm[0] + gp.dz_nm[0] / 2, [d]])
    g = np.concatenate([[gp.generation[0]], gp.generation, [gp.generation[-1]]])
    volts = np.round(np.arange(0.0, float(eg), 0.02), 6) if voltages_v is None else np.asarray(voltages_v, float)
    j = sesame_jv(d, t, float(eg), z, g, volts, temperature_k=design.temperature_k, points=points)
    ok = np.isfinite(j)
    v, jj = volts[ok], j[ok]
    vf = np.linspace(0.0, v.max(), 4000)
    jf = np.interp(vf, v, jj)
    p = vf * jf
    k = int(np.argmax(p))
    jsc = float(np.interp(0.0, v, jj))
    neg = np.flatnonzero(jj < 0)
    voc = float(np.interp(0.0, -jj[neg[0] - 1:neg[0] + 1], v[neg[0] - 1:neg[0] + 1])) if neg.size and neg[0] > 0 \
        else float("nan")
    pmax = float(p[k])
    return {"voltage_v": volts, "current_ma_cm2": j, "jsc_ma_cm2": jsc, "voc_v": voc,
            "ff_pct": pmax / (jsc * voc) * 100 if np.isfinite(voc) and jsc > 0 else float("nan"),
            "pce_pct": pmax / incident_power_mw_cm2(design.spectrum) * 100}
