"""Checks of a parsed study or simulate file against the material library and the device models.

Each raises ``StudyFileError`` naming the file (``source``) and the key at fault: unknown or
non-tunable materials, bandgaps outside a material's tunable range, materials without n,k on
the optical grid the device is solved on, unknown electrical presets.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .spec import Bound, DeviceSpec, LayerSpec, StudyFileError, medium


def did_you_mean(value, choices) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``value`` (difflib), else ``""``: the
    hint of an unknown-name error. difflib is imported here only, when an error is raised."""
    import difflib

    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get_material(source: str, name: str, where: str, **params):
    """``nkdata.get(name, **params)``; an unknown name or bad parameter names ``where``."""
    import nkdata

    try:
        return nkdata.get(name, **params)
    except (KeyError, ValueError) as e:
        msg = e.args[0] if e.args else str(e)
        raise StudyFileError(source, where, f"{msg}") from None


def check_materials(source: str, layers: Sequence[LayerSpec], wl) -> None:
    """Every named material exists, bandgaps are given only for tunable absorbers and lie in
    their range (eV), and an explicit ``device.wavelengths_nm`` (nm) lies inside each material's
    n,k range."""
    import nkdata

    tunable = nkdata.TUNABLE
    lo_wl, hi_wl = (wl[0], wl[-1]) if wl is not None else (None, None)
    for lay in layers:
        if lay.material is None:
            if lay.bandgap_ev is not None:
                raise StudyFileError(source, f"{lay.key}.bandgap_ev", "a constant-nk layer has no tunable bandgap")
            continue
        where = f"{lay.key}.material"
        if lay.bandgap_ev is not None:
            if lay.material not in tunable:
                get_material(source, lay.material, where)   # unknown name first
                raise StudyFileError(source, f"{lay.key}.bandgap_ev",
                                     f"{lay.material!r} has no tunable bandgap; tunable: {', '.join(tunable)}")
            gmin, gmax = tunable[lay.material]
            b = lay.bandgap_ev
            lo, hi = (b.low, b.high) if isinstance(b, Bound) else (b, b)
            if lo < gmin - 1e-9 or hi > gmax + 1e-9:
                raise StudyFileError(source, f"{lay.key}.bandgap_ev",
                                     f"{lo:g}..{hi:g} eV is outside {lay.material}'s range {gmin:g}..{gmax:g} eV")
            mat = get_material(source, lay.material, where, bandgap_ev=0.5 * (lo + hi))
        else:
            mat = get_material(source, lay.material, where)
        wmin = getattr(mat, "wl_min_nm", None)
        wmax = getattr(mat, "wl_max_nm", None)
        if lo_wl is not None and wmin is not None and wmax is not None:
            if lo_wl < wmin - 1e-9 or hi_wl > wmax + 1e-9:
                raise StudyFileError(source, where, f"{lay.material} has n,k on {wmin:g}..{wmax:g} nm only, "
                                                    f"but device.wavelengths_nm spans {lo_wl:g}..{hi_wl:g} nm")


def check_coverage(spec: DeviceSpec) -> None:
    """Every material must have n,k on the whole optical grid the device is solved on.

    The grid is ``device.wavelengths_nm`` or tandem's default for the design with the
    lowest free bandgaps (which extends past the longest absorption edge).
    """
    low = {k: b.low for k, b in spec.parameters.items()}
    try:
        design = spec.design(low)
        wl = np.asarray(design.wavelengths(), dtype=float)
    except (ValueError, TypeError) as e:
        raise StudyFileError(spec.source, "device", f"tandem rejects this device: {e}") from None
    where_grid = ("device.wavelengths_nm" if spec.wavelengths_nm is not None
                  else "the default grid (set device.wavelengths_nm to change it)")
    gaps = spec.bandgaps_ev(low)
    items = [(f"{lay.key}.material", spec.material(i, gaps.get(lay.name))) for i, lay in enumerate(spec.layers)]
    items += [(k, medium(m)) for k, m in (("device.incident", spec.incident), ("device.exit", spec.exit))
              if isinstance(m, str)]
    for key, mat in items:
        wmin = getattr(mat, "wl_min_nm", None)
        wmax = getattr(mat, "wl_max_nm", None)
        if wmin is None or wmax is None:
            continue
        if wl[0] < wmin - 1e-9 or wl[-1] > wmax + 1e-9:
            raise StudyFileError(spec.source, key, f"{getattr(mat, 'name', mat)} has n,k on {wmin:g}..{wmax:g} nm "
                                                   f"only, but the device is solved on {wl[0]:g}..{wl[-1]:g} nm "
                                                   f"({where_grid})")


def check_presets(source: str, device: Mapping) -> None:
    """``device.top.preset`` and ``device.bottom.preset`` name presets of ``tandem.presets``."""
    from tandem.presets import PRESETS

    for k in ("top", "bottom"):
        tab = device.get(k)
        if isinstance(tab, dict) and "preset" in tab and tab["preset"] not in PRESETS:
            hint = did_you_mean(tab["preset"], PRESETS)
            raise StudyFileError(source, f"device.{k}.preset",
                                 f"unknown preset {tab['preset']!r}{hint}; presets: {', '.join(PRESETS)}")
