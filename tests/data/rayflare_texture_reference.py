"""Compute the RayFlare reference for the textured-optics tests (optics.texture).

Run from the repository root:  PYTHONPATH=$PWD python tests/data/rayflare_texture_reference.py [--quick]
Writes tests/data/rayflare_texture_reference.json: R, T and absorptance per layer of two textured
stacks from RayFlare's ray tracer (``rt_structure`` with TMM lookup tables on the facets), the exact
inputs, the RayFlare version and the run time. The n,k of every material is ours (nkdata), handed to
RayFlare through an object with ``n(wl_m)``/``k(wl_m)``, so that only the optical method differs.

Cases (regular 54.74 deg pyramids with ``randomize_surface=True``: RayFlare's random-pyramid model):
  a: air | ITO 70 nm | Si 200 um | air; pyramids front (upright) and rear (pointing out).
  b: CsPbI3 QD / Si 2T with conformal films, the stack of studies/examples/cspbi3qd_si_2t.toml.

RayFlare's TMM lookup tables come from solcore's vectorised TMM (``tmm_core_vec``), whose
``list_snell`` keeps numpy's arcsin branch in the semi-infinite media: beyond the critical angle
the evanescent wave in the exit medium then *grows* away from the stack. R = 1 still holds for
lossless films, but an absorbing film under total internal reflection absorbs far too much (70 nm
ITO seen from Si at 43 deg, 1100 nm, s: A = 0.204 instead of 0.038, the value of ``tmm`` and of
the analytic Airy sum). Light trapped in a wafer meets its front films under total internal
reflection tens of times, so this run patches ``list_snell`` with the forward-branch choice of
``tmm.list_snell`` (``is_forward_angle``: Im(n cos theta) > 0, or Re > 0 for a propagating wave)
in the first and last medium; ``check_lookup_table`` verifies the tables against ``tmm``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import nkdata

if not hasattr(np, "trapz"):  # RayFlare 1.2.1 calls np.trapz, removed in numpy 2
    np.trapz = np.trapezoid

FACET_DEG = 54.74
CASES = {
    "a": {
        "front": [("ITO", 70.0)],
        "wafer": ("Si", 200e3),
        "rear": [],
        "incident": "air", "exit": "air",
    },
    "b": {
        "front": [("MgF2", 100.0), ("IZO", 100.0), ("MoOx", 10.0), ("PTAA", 20.0),
                  ("CsPbI3_QD", 400.0), ("SnO2", 30.0), ("ITO", 20.0), ("a-Si:H", 8.0)],
        "wafer": ("Si", 160e3),
        "rear": [("a-Si:H", 8.0), ("ITO", 80.0), ("Ag", 200.0)],
        "incident": "air", "exit": "air",
    },
}
QD_BANDGAP_EV = 1.75


def material(name):
    if name == "CsPbI3_QD":
        return nkdata.get(name, bandgap_ev=QD_BANDGAP_EV)
    return nkdata.get(name)


def case_arrays(case, wl):
    """One of ``CASES``' stacks as arrays for ``optics.redistribution.solve_textured``: n,k of
    the layers [L, W], thicknesses (nm), coherence flags, incident and exit indices [W]."""
    mats = [m for m, _ in case["front"]] + [case["wafer"][0]] + [m for m, _ in case["rear"]]
    d = [t for _, t in case["front"]] + [case["wafer"][1]] + [t for _, t in case["rear"]]
    n = np.array([material(m).nk(wl) for m in mats])
    coh = [True] * len(case["front"]) + [False] + [True] * len(case["rear"])
    return n, d, coh, material(case["incident"]).nk(wl).real + 0j, material(case["exit"]).nk(wl)


class _RFMaterial:
    """RayFlare/solcore-style material: n(wl), k(wl) with wavelengths in metres."""

    def __init__(self, name):
        self.name = name
        self._m = material(name)

    def _nk(self, wl_m):
        wl = np.clip(np.atleast_1d(np.asarray(wl_m, dtype=float)) * 1e9, 250.0, None)
        return self._m.nk(wl) if hasattr(self._m, "nk") else np.full(wl.shape, complex(self._m))

    def n(self, wl_m):
        out = self._nk(wl_m).real
        return out if np.ndim(wl_m) else out[0]

    def k(self, wl_m):
        out = self._nk(wl_m).imag
        return out if np.ndim(wl_m) else out[0]

    def __str__(self):
        return self.name


def patch_solcore_snell():
    """Forward-branch angles in the incident and exit media of solcore's vectorised TMM (see the
    module docstring); idempotent."""
    from solcore.absorption_calculator import tmm_core_vec as tcv

    if getattr(tcv.list_snell, "forward_branch", False):
        return
    original = tcv.list_snell

    def list_snell(n_list, th_0):
        th = np.array(original(n_list, th_0), dtype=complex)
        for i in (0, -1):
            ncos = np.asarray(n_list[i]) * np.cos(th[i])
            forward = np.where(np.abs(ncos.imag) > 100 * np.finfo(float).eps, ncos.imag > 0, ncos.real > 0)
            th[i] = np.where(forward, th[i], np.pi - th[i])
        return th

    list_snell.forward_branch = True
    tcv.list_snell = list_snell


def check_lookup_table(path, stack, incident, exit_, wavelengths_nm, atol=1e-6):
    """Max |difference| of a RayFlare lookup table (R, T, A per layer, s and p, both sides) from
    ``tmm.coh_tmm`` (the incident medium taken lossless, as RayFlare's rays see it)."""
    import tmm
    import xarray as xr

    table = xr.load_dataset(path)
    worst = 0.0
    for wl in wavelengths_nm:
        t = table.sel(wl=wl, method="nearest")
        films = [material(m).nk(np.array([wl]))[0] for m, _ in stack]
        d = [np.inf] + [th for _, th in stack] + [np.inf]
        n_in, n_out = (material(m).nk(np.array([wl]))[0] for m in (incident, exit_))
        for side, ns, dd in ((1, [n_in.real] + films + [n_out], d), (-1, [n_out.real] + films[::-1] + [n_in], d[::-1])):
            for pol in ("s", "p"):
                tp = t.sel(side=side, pol=pol)
                for i, th in enumerate(table.angle.values):
                    r = tmm.coh_tmm(pol, ns, dd, th, wl)
                    a = tmm.absorp_in_each_layer(r)[1:-1]
                    a = a if side == 1 else a[::-1]
                    worst = max(worst, abs(r["R"] - float(tp.R[i])), abs(r["T"] - float(tp.T[i])),
                                float(np.abs(a - tp.Alayer.values[i]).max()))
    if worst > atol:
        raise RuntimeError(f"{path}: RayFlare's TMM lookup table differs from tmm by {worst:.2e}")
    return worst


def run_case(key, wavelengths_nm, n_side, n_rays):
    from solcore.structure import Layer
    from rayflare.options import default_options
    from rayflare.ray_tracing import rt_structure
    from rayflare.textures import regular_pyramids

    patch_solcore_snell()
    case = CASES[key]
    opts = default_options()
    opts.wavelength = np.asarray(wavelengths_nm) * 1e-9
    opts.nx = n_side
    opts.ny = n_side
    opts.n_rays = n_rays
    opts.pol = "u"
    opts.I_thresh = 1e-6
    opts.randomize_surface = True
    opts.bulk_profile = False
    opts.depth_spacing = 1e-6
    opts.depth_spacing_bulk = 1e-5
    opts.project_name = f"qdtandem_texture_{key}"
    opts.parallel = False  # in-process, so that the numpy 2 shim below reaches RayFlare
    opts.lookuptable_angles = 300
    front = [Layer(d * 1e-9, _RFMaterial(m)) for m, d in case["front"]]
    rear = [Layer(d * 1e-9, _RFMaterial(m)) for m, d in case["rear"]]
    kw_f = dict(interface_layers=front, name=f"qdt_{key}_front", coherency_list=["c"] * len(front)) if front else {}
    kw_r = dict(interface_layers=rear, name=f"qdt_{key}_rear", coherency_list=["c"] * len(rear)) if rear else {}
    surf_f = regular_pyramids(elevation_angle=FACET_DEG, upright=True, size=1, **kw_f)
    surf_r = regular_pyramids(elevation_angle=FACET_DEG, upright=False, size=1, **kw_r)
    wafer, width = case["wafer"]
    np.random.seed(1)
    import random
    random.seed(1)
    t0 = time.perf_counter()
    struct = rt_structure(textures=[surf_f, surf_r], materials=[_RFMaterial(wafer)], widths=[width * 1e-9],
                          incidence=_RFMaterial(case["incident"]), transmission=_RFMaterial(case["exit"]),
                          use_TMM=True, options=opts, overwrite=True, save_location="current")
    # where the wafer transmits (light returns to the facets from inside), the tables must be tmm's
    clear = [w for w in wavelengths_nm
             if np.exp(-4 * np.pi * material(wafer).nk(np.array([w]))[0].imag * width / w) > 1e-3]
    lookup_err = 0.0
    for films, name, inc, ext in ((case["front"], f"qdt_{key}_front", case["incident"], wafer),
                                  (case["rear"], f"qdt_{key}_rear", wafer, case["exit"])):
        for path in (Path.cwd() / opts.project_name).glob(f"{name}int_*.nc") if films else ():
            lookup_err = max(lookup_err, check_lookup_table(path, films, inc, ext, clear))
    res = struct.calculate(opts)
    seconds = time.perf_counter() - t0
    a_front = np.asarray(res["A_per_interface"][0]) if front else np.zeros((len(wavelengths_nm), 0))
    a_rear = np.asarray(res["A_per_interface"][1]) if rear else np.zeros((len(wavelengths_nm), 0))
    return {
        "stack": case, "wavelengths_nm": list(map(float, wavelengths_nm)),
        "R": np.asarray(res["R"]).tolist(), "T": np.asarray(res["T"]).tolist(),
        "A_wafer": np.asarray(res["A_per_layer"])[:, 0].tolist(),
        "A_front": a_front.T.tolist(), "A_rear": a_rear.T.tolist(),
        "n_rays": n_rays, "nx": n_side, "seconds": seconds, "lookup_table_vs_tmm": lookup_err,
    }


def main(argv):
    import rayflare
    from importlib.metadata import version

    quick = "--quick" in argv
    wl = np.arange(300.0, 1200.0 + 1e-9, 100.0 if quick else 20.0)
    n_side, n_rays = (5, 100) if quick else (20, 1200)
    path = Path(__file__).with_name("rayflare_texture_reference" + ("_quick" if quick else "") + ".json")
    keys = [a for a in argv[1:] if a in CASES] or list(CASES)
    results = {key: run_case(key, wl, n_side, n_rays) for key in keys}
    for key in keys:
        print(key, f"{results[key]['seconds']:.1f} s", flush=True)
    # cases named on the command line replace theirs in the file and keep the others
    # (so that the cases can be run in parallel processes)
    old = json.loads(path.read_text()) if path.exists() and len(keys) < len(CASES) else {"cases": {}}
    out = {"script": "tests/data/rayflare_texture_reference.py", "rayflare_version": version("rayflare"),
           "solcore_version": version("solcore"), "solcore_list_snell": "forward branch (patch_solcore_snell)",
           "facet_deg": FACET_DEG, "qd_bandgap_ev": QD_BANDGAP_EV,
           "cases": {k: results.get(k, old["cases"].get(k)) for k in CASES if k in results or k in old["cases"]}}
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main(sys.argv)
