"""Compute the RayFlare reference for the textured-optics tests (optics.texture).

Run from the repository root:  PYTHONPATH=$PWD python tests/data/rayflare_texture_reference.py [--quick]
Writes tests/data/rayflare_texture_reference.json: R, T and absorptance per layer of two textured
stacks from RayFlare's ray tracer (``rt_structure`` with TMM lookup tables on the facets), the exact
inputs, the RayFlare version and the run time. The n,k of every material is ours (nkdata), handed to
RayFlare through an object with ``n(wl_m)``/``k(wl_m)``, so that only the optical method differs.

Cases (regular 54.74 deg pyramids with ``randomize_surface=True``: RayFlare's random-pyramid model):
  a: air | ITO 70 nm | Si 200 um | air; pyramids front (upright) and rear (pointing out).
  b: CsPbI3 QD / Si 2T with conformal films, the stack of studies/examples/cspbi3qd_si_2t.toml.
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


def run_case(key, wavelengths_nm, n_side, n_rays):
    from solcore.structure import Layer
    from rayflare.options import default_options
    from rayflare.ray_tracing import rt_structure
    from rayflare.textures import regular_pyramids

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
    res = struct.calculate(opts)
    seconds = time.perf_counter() - t0
    a_front = np.asarray(res["A_per_interface"][0]) if front else np.zeros((len(wavelengths_nm), 0))
    a_rear = np.asarray(res["A_per_interface"][1]) if rear else np.zeros((len(wavelengths_nm), 0))
    return {
        "stack": case, "wavelengths_nm": list(map(float, wavelengths_nm)),
        "R": np.asarray(res["R"]).tolist(), "T": np.asarray(res["T"]).tolist(),
        "A_wafer": np.asarray(res["A_per_layer"])[:, 0].tolist(),
        "A_front": a_front.T.tolist(), "A_rear": a_rear.T.tolist(),
        "n_rays": n_rays, "nx": n_side, "seconds": seconds,
    }


def main(argv):
    import rayflare
    from importlib.metadata import version

    quick = "--quick" in argv
    wl = np.arange(300.0, 1200.0 + 1e-9, 100.0 if quick else 20.0)
    n_side, n_rays = (5, 100) if quick else (20, 1200)
    out = {"script": "tests/data/rayflare_texture_reference.py", "rayflare_version": version("rayflare"),
           "facet_deg": FACET_DEG, "qd_bandgap_ev": QD_BANDGAP_EV, "cases": {}}
    for key in argv[1:] if any(a in CASES for a in argv[1:]) else CASES:
        if key not in CASES:
            continue
        out["cases"][key] = run_case(key, wl, n_side, n_rays)
        print(key, f"{out['cases'][key]['seconds']:.1f} s", flush=True)
    path = Path(__file__).with_name("rayflare_texture_reference" + ("_quick" if quick else "") + ".json")
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main(sys.argv)
