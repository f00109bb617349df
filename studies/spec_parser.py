"""Parsing and validation of study and simulate files (layout: ``studies.spec``).

``Parser(source, text, raw, require_study).parse()`` turns the TOML tables into a
``DeviceSpec``: every key is checked (unknown keys are errors with a close-match hint),
numbers are range-checked, materials are looked up in ``nkdata`` and must cover the optical
grid, presets must exist in ``tandem.presets`` (those checks: ``studies.spec_checks``). Errors are ``StudyFileError`` with the
file and the key. Use ``studies.spec.load`` / ``loads`` rather than this module directly.
"""
from __future__ import annotations

import math
from typing import Mapping

from tandem.vocabulary import ARCHITECTURES, COLLECTION_MODELS, KINDS, LIGHT_TRAPPING, TRANSPORT_KEYS

from .spec import (METRICS, MULTI_OBJECTIVE_SAMPLERS, OBJECTIVES, SAMPLERS, Bound, ConstraintSpec, DeviceSpec,
                   LayerSpec, StudyFileError, StudySettings, SubcellSpec, YieldSpec)
from .spec_checks import check_coverage, check_materials, check_presets, did_you_mean, get_material

#: the keys each table accepts (anything else is an error naming the key)
_STUDY_KEYS = {
    "name", "description", "objectives", "sampler", "seed", "n_trials", "timeout_s",
    "batch_size", "grid_points", "storage", "sampler_options", "constraints",
}
_DEVICE_KEYS = {
    "kind", "incident", "exit", "interconnect", "wavelengths_nm", "angle_deg",
    "temperature_k", "light_trapping", "luminescent_coupling", "top", "bottom", "texture",
}
_TEXTURE_KEYS = {"front", "rear", "facet_deg"}
_SUBCELL_KEYS = {"absorber", "preset", "ere", "rs_ohm_cm2", "rsh_ohm_cm2", "ideality", "iqe", "collection",
                 *TRANSPORT_KEYS}
_LAYER_KEYS = {"name", "material", "nk", "thickness_nm", "bandgap_ev", "coherent"}
_BOUND_KEYS = {"min", "max", "step", "log"}
_CONSTRAINT_KEYS = {"metric", "min", "max"}
_TOP_KEYS = {"study", "device", "layers", "yield"}
_YIELD_KEYS = {"site", "weather", "mounting", "tilt_deg", "azimuth_deg", "transposition"}


class Parser:
    """Validate the parsed TOML of one study or simulate file and build its ``DeviceSpec``.

    Every check raises ``StudyFileError`` naming ``source`` and the dotted key at fault.
    """


    def __init__(self, source: str, text: str, raw: dict, require_study: bool | None):
        self.source, self.text, self.raw, self.require_study = source, text, raw, require_study

    def err(self, key: str, msg: str) -> StudyFileError:
        return StudyFileError(self.source, key, msg)

    # small typed getters -------------------------------------------------
    def check_keys(self, table: Mapping, allowed: set[str], where: str) -> None:
        for k in table:
            if k not in allowed:
                hint = did_you_mean(k, sorted(allowed))
                key = f"{where}.{k}" if where else k
                raise self.err(key, f"unknown key{hint}; allowed: {', '.join(sorted(allowed))}")

    def table(self, parent: Mapping, k: str, where: str, required: bool = False) -> dict | None:
        if k not in parent:
            if required:
                raise self.err(where, "missing table")
            return None
        val = parent[k]
        if not isinstance(val, dict):
            raise self.err(where, f"expected a table, got {type(val).__name__}")
        return val

    def number(self, parent: Mapping, k: str, where: str, default=None, *, positive=False,
               nonneg=False, integer=False, lo=None, hi=None):
        if k not in parent:
            return default
        val = parent[k]
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise self.err(where, f"expected a number, got {val!r}")
        if integer and not isinstance(val, int):
            raise self.err(where, f"expected an integer, got {val!r}")
        if not math.isfinite(val):
            raise self.err(where, f"must be finite, got {val!r}")
        if positive and val <= 0:
            raise self.err(where, f"must be > 0, got {val!r}")
        if nonneg and val < 0:
            raise self.err(where, f"must be >= 0, got {val!r}")
        if lo is not None and val < lo or hi is not None and val > hi:
            raise self.err(where, f"must be in [{lo}, {hi}], got {val!r}")
        return val

    def string(self, parent: Mapping, k: str, where: str, default=None, choices=None):
        if k not in parent:
            return default
        val = parent[k]
        if not isinstance(val, str):
            raise self.err(where, f"expected a string, got {val!r}")
        if choices is not None and val not in choices:
            hint = did_you_mean(val, choices)
            raise self.err(where, f"unknown value {val!r}{hint}; choose one of {', '.join(choices)}")
        return val

    def bound_or_number(self, parent: Mapping, k: str, where: str, *, positive: bool):
        val = parent[k]
        if isinstance(val, dict):
            self.check_keys(val, _BOUND_KEYS, where)
            for req in ("min", "max"):
                if req not in val:
                    raise self.err(f"{where}.{req}", "missing: a free parameter needs min and max")
            lo = self.number(val, "min", f"{where}.min", nonneg=True)
            hi = self.number(val, "max", f"{where}.max", nonneg=True)
            if positive and lo <= 0:
                raise self.err(f"{where}.min", f"must be > 0, got {lo!r}")
            if lo > hi:
                raise self.err(where, f"lower bound min = {lo:g} is greater than max = {hi:g}")
            step = self.number(val, "step", f"{where}.step", positive=True)
            log = val.get("log", False)
            if not isinstance(log, bool):
                raise self.err(f"{where}.log", f"expected true/false, got {log!r}")
            if log and lo <= 0:
                raise self.err(f"{where}.log", "log-uniform needs min > 0")
            if log and step is not None:
                raise self.err(f"{where}.log", "log and step cannot be combined")
            return Bound(float(lo), float(hi), None if step is None else float(step), log)
        return float(self.number(parent, k, where, positive=positive, nonneg=not positive))

    # sections ------------------------------------------------------------
    def parse(self) -> DeviceSpec:
        raw = self.raw
        self.check_keys(raw, _TOP_KEYS, "")
        device = self.table(raw, "device", "device", required=True)
        self.check_keys(device, _DEVICE_KEYS, "device")
        layers = self.parse_layers()
        names = {lay.name: i for i, lay in enumerate(layers)}

        kind = self.string(device, "kind", "device.kind", choices=KINDS)
        if kind is None:
            raise self.err("device.kind", f"missing; choose one of {', '.join(KINDS)}")
        wl = self.parse_wavelengths(device)
        top = self.parse_subcell(device, "top", names, required=True)
        bottom = self.parse_subcell(device, "bottom", names, required=kind in ("2T", "4T"))
        if bottom is not None and kind in ("single", "semitransparent"):
            raise self.err("device.bottom", f"a {kind} device has one subcell; remove [device.bottom]")
        if bottom is not None and bottom.absorber == top.absorber:
            raise self.err("device.bottom.absorber", "is the same layer as device.top.absorber")
        if bottom is not None and bottom.absorber < top.absorber:
            raise self.err("device.bottom.absorber",
                           "comes before the top absorber; layers are listed in the order light meets them")

        inter = device.get("interconnect", [])
        if not isinstance(inter, list):
            raise self.err("device.interconnect", "expected a list of layer names")
        interconnect = tuple(self.layer_ref(x, names, f"device.interconnect[{j}]")
                             for j, x in enumerate(inter))
        if kind == "2T":
            if not interconnect:
                raise self.err("device.interconnect",
                               "a 2T tandem needs the recombination/interconnect layer name(s)")
            for j, i in enumerate(interconnect):
                if not top.absorber < i < bottom.absorber:
                    raise self.err(f"device.interconnect[{j}]",
                                   f"layer {layers[i].name!r} is not between the two absorbers")

        incident = self.parse_medium(device, "incident")
        exit_ = self.parse_medium(device, "exit")
        angle = float(self.number(device, "angle_deg", "device.angle_deg", 0.0, lo=0.0, hi=89.9))
        temp = float(self.number(device, "temperature_k", "device.temperature_k", 298.15, positive=True))
        lt = self.string(device, "light_trapping", "device.light_trapping", "none", LIGHT_TRAPPING)
        lc = float(self.number(device, "luminescent_coupling", "device.luminescent_coupling", 0.0,
                               lo=0.0, hi=1.0))
        if lc and kind != "2T":
            raise self.err("device.luminescent_coupling", "applies to 2T tandems only")
        texture = self.parse_texture(device, lt, layers)

        check_materials(self.source, layers, wl)
        check_presets(self.source, device)
        spec_kw = dict(kind=kind, layers=layers, top=top, bottom=bottom, interconnect=interconnect,
                       incident=incident, exit=exit_, wavelengths_nm=wl, angle_deg=angle,
                       temperature_k=temp, light_trapping=lt, luminescent_coupling=lc, texture=texture)

        check_coverage(DeviceSpec(source=self.source, text=self.text, raw=raw, study=None, **spec_kw))
        study = None
        if "study" in raw:
            study = self.parse_study(raw, kind, layers)
        free = [f"{lay.key}.{what}" for lay in layers for what in ("thickness_nm", "bandgap_ev")
                if isinstance(getattr(lay, what), Bound)]
        if self.require_study is True and study is None:
            raise self.err("study", "missing table: a study file needs [study] (name, objectives, ...)")
        if self.require_study is False and free:
            raise self.err(free[0], "is free (a min/max table); a simulate file needs fixed values")
        if study is not None and not free:
            raise self.err("layers", "the study has no free parameter: give at least one "
                                     "thickness_nm or bandgap_ev as {min = ..., max = ...}")
        return DeviceSpec(source=self.source, text=self.text, raw=raw, study=study,
                          yield_spec=self.parse_yield(raw), **spec_kw)

    def parse_yield(self, raw) -> YieldSpec | None:
        from pathlib import Path

        tab = self.table(raw, "yield", "yield")
        if tab is None:
            return None
        # imported only for a [yield] table: no weather code in a plain study's start-up
        from tandem.vocabulary import MOUNTINGS
        from tandem.weather import SITES, TRANSPOSITIONS

        self.check_keys(tab, _YIELD_KEYS, "yield")
        site = self.string(tab, "site", "yield.site", None, tuple(SITES))
        weather = self.string(tab, "weather", "yield.weather")
        if site is not None and weather is not None:
            raise self.err("yield", "give site or weather, not both")
        if weather is not None:
            path = Path(weather).expanduser()
            if not path.is_absolute() and self.source not in ("<string>", ""):
                path = Path(self.source).resolve().parent / path
            if not path.is_file():
                raise self.err("yield.weather", f"weather file {str(path)!r} not found")
            weather = str(path)
        mounting = self.string(tab, "mounting", "yield.mounting", "fixed", MOUNTINGS)
        tilt = self.number(tab, "tilt_deg", "yield.tilt_deg", None, lo=0.0, hi=90.0)
        azimuth = self.number(tab, "azimuth_deg", "yield.azimuth_deg", None, lo=0.0, hi=360.0)
        if tilt is not None and mounting != "fixed":
            raise self.err("yield.tilt_deg", f"applies to a fixed mounting, not {mounting!r}")
        transposition = self.string(tab, "transposition", "yield.transposition", "perez", TRANSPOSITIONS)
        return YieldSpec(site=site, weather_file=weather, mounting=mounting,
                         tilt_deg=None if tilt is None else float(tilt),
                         azimuth_deg=None if azimuth is None else float(azimuth), transposition=transposition)

    def parse_texture(self, device: Mapping, lt: str, layers):
        """[device.texture] (front, rear, facet_deg) -> optics.texture.WaferTexture, for "pyramids"."""
        tab = self.table(device, "texture", "device.texture")
        if tab is not None and lt != "pyramids":
            raise self.err("device.texture", f"applies to light_trapping = \"pyramids\", not {lt!r}")
        if lt != "pyramids":
            return None
        from optics.surfaces import DEFAULT_FACET_DEG, KINDS as TEXTURES, Texture, WaferTexture

        tab = tab or {}
        self.check_keys(tab, _TEXTURE_KEYS, "device.texture")
        facet = self.number(tab, "facet_deg", "device.texture.facet_deg", DEFAULT_FACET_DEG)
        if not 0 < facet < 90:
            raise self.err("device.texture.facet_deg", f"must lie in (0, 90) degrees, got {facet!r}")
        kinds = [k for k in TEXTURES if k != "lambertian"]
        front = self.string(tab, "front", "device.texture.front", "random_upright", kinds)
        rear = self.string(tab, "rear", "device.texture.rear", "random_upright", kinds)
        n_inc = sum(not lay.coherent for lay in layers)
        if n_inc != 1:
            raise self.err("device.light_trapping", "\"pyramids\" textures the wafer: the stack needs exactly one "
                                                    f"layer with coherent = false (the wafer), it has {n_inc}")
        return WaferTexture(Texture(front, facet), Texture(rear, facet))

    def parse_layers(self) -> tuple[LayerSpec, ...]:
        raw_layers = self.raw.get("layers")
        if raw_layers is None:
            raise self.err("layers", "missing: give the stack as [[layers]] tables")
        if not isinstance(raw_layers, list) or not all(isinstance(x, dict) for x in raw_layers):
            raise self.err("layers", "expected an array of tables ([[layers]])")
        if not raw_layers:
            raise self.err("layers", "the stack has no layer")
        out, seen = [], {}
        for i, entry in enumerate(raw_layers):
            where = f"layers[{i}]"
            self.check_keys(entry, _LAYER_KEYS, where)
            material = self.string(entry, "material", f"{where}.material")
            nk = None
            if "nk" in entry:
                if material is not None:
                    raise self.err(f"{where}.nk", "give either material or nk, not both")
                nk = self.parse_nk(entry["nk"], f"{where}.nk")
            elif material is None:
                raise self.err(f"{where}.material", "missing: give an nkdata material name (or nk)")
            name = self.string(entry, "name", f"{where}.name", default=material)
            if name is None:
                raise self.err(f"{where}.name", "missing: a layer given by nk needs a name")
            if not name or any(c in name for c in " .\t[]"):
                raise self.err(f"{where}.name", f"{name!r}: use a name without spaces, dots or brackets")
            if name in seen:
                raise self.err(f"{where}.name", f"{name!r} is already used by layers[{seen[name]}]; "
                                                "give this layer a unique name = \"...\"")
            seen[name] = i
            if "thickness_nm" not in entry:
                raise self.err(f"{where}.thickness_nm", "missing")
            thick = self.bound_or_number(entry, "thickness_nm", f"{where}.thickness_nm", positive=False)
            gap = None
            if "bandgap_ev" in entry:
                gap = self.bound_or_number(entry, "bandgap_ev", f"{where}.bandgap_ev", positive=True)
            coherent = entry.get("coherent", True)
            if not isinstance(coherent, bool):
                raise self.err(f"{where}.coherent", f"expected true/false, got {coherent!r}")
            out.append(LayerSpec(name=name, key=where, thickness_nm=thick, material=material, nk=nk,
                                 bandgap_ev=gap, coherent=coherent))
        return tuple(out)

    def parse_nk(self, val, where: str) -> complex:
        if isinstance(val, (int, float)) and not isinstance(val, bool):
            n, k = float(val), 0.0
        elif (isinstance(val, list) and len(val) == 2
              and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in val)):
            n, k = float(val[0]), float(val[1])
        else:
            raise self.err(where, f"expected n or [n, k], got {val!r}")
        if not (math.isfinite(n) and math.isfinite(k)) or n <= 0 or k < 0:
            raise self.err(where, f"needs n > 0 and k >= 0 (n + ik convention), got n={n}, k={k}")
        return complex(n, k)

    def parse_medium(self, device: Mapping, k: str):
        where = f"device.{k}"
        val = device.get(k, 1.0)
        if isinstance(val, str):
            get_material(self.source, val, where)
            return val
        return self.parse_nk(val, where)

    def layer_ref(self, ref, names: Mapping[str, int], where: str) -> int:
        if isinstance(ref, bool):
            raise self.err(where, f"expected a layer name or index, got {ref!r}")
        if isinstance(ref, int):
            if not 0 <= ref < len(names):
                raise self.err(where, f"layer index {ref} is out of range (0..{len(names) - 1})")
            return ref
        if isinstance(ref, str):
            if ref not in names:
                hint = did_you_mean(ref, names)
                raise self.err(where, f"no layer named {ref!r}{hint}; layers: {', '.join(names)}")
            return names[ref]
        raise self.err(where, f"expected a layer name or index, got {ref!r}")

    def parse_subcell(self, device, k, names, required) -> SubcellSpec | None:
        where = f"device.{k}"
        tab = self.table(device, k, where)
        if tab is None:
            if required:
                raise self.err(where, f"missing table: [{where}] with absorber = \"<layer name>\"")
            return None
        self.check_keys(tab, _SUBCELL_KEYS, where)
        if "absorber" not in tab:
            raise self.err(f"{where}.absorber", "missing: name the photo-active layer")
        absorber = self.layer_ref(tab["absorber"], names, f"{where}.absorber")
        preset = self.string(tab, "preset", f"{where}.preset")
        opts = []
        for key in ("ere", "rs_ohm_cm2", "rsh_ohm_cm2", "ideality", "iqe"):
            if key in tab:
                kw = dict(nonneg=True)
                if key == "ere":
                    kw = dict(lo=0.0, hi=1.0)
                elif key == "iqe":
                    kw = dict(lo=0.0, hi=1.0)
                elif key == "ideality":
                    kw = dict(positive=True)
                val = self.number(tab, key, f"{where}.{key}", **kw)
                if key == "ere" and val <= 0:
                    raise self.err(f"{where}.ere", "must be in (0, 1]")
                opts.append((key, float(val)))
        if "collection" in tab:
            opts.append(("collection", self.string(tab, "collection", f"{where}.collection",
                                                   choices=COLLECTION_MODELS)))
        transport = []
        for key in TRANSPORT_KEYS:  # carrier transport overrides (tandem.transport)
            if key not in tab:
                continue
            if key == "architecture":
                transport.append((key, self.string(tab, key, f"{where}.{key}", choices=ARCHITECTURES)))
            else:
                nonneg = key.startswith("s_")
                transport.append((key, float(self.number(tab, key, f"{where}.{key}", positive=not nonneg,
                                                         nonneg=nonneg))))
        if transport:
            opts.append(("transport", tuple(transport)))
        return SubcellSpec(absorber=absorber, preset=preset, options=tuple(opts))

    def parse_wavelengths(self, device) -> tuple[float, ...] | None:
        where = "device.wavelengths_nm"
        if "wavelengths_nm" not in device:
            return None
        val = device["wavelengths_nm"]
        if isinstance(val, dict):
            self.check_keys(val, {"start", "stop", "step"}, where)
            for req in ("start", "stop", "step"):
                if req not in val:
                    raise self.err(f"{where}.{req}", "missing")
            start = self.number(val, "start", f"{where}.start", positive=True)
            stop = self.number(val, "stop", f"{where}.stop", positive=True)
            step = self.number(val, "step", f"{where}.step", positive=True)
            if stop <= start:
                raise self.err(where, f"stop = {stop} must exceed start = {start}")
            n = int(math.floor((stop - start) / step + 1e-9))
            wl = tuple(float(start + i * step) for i in range(n + 1))
        elif isinstance(val, list):
            if len(val) < 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in val):
                raise self.err(where, "expected a list of at least two numbers (nm)")
            wl = tuple(float(x) for x in val)
            if any(b <= a for a, b in zip(wl, wl[1:])) or wl[0] <= 0:
                raise self.err(where, "wavelengths must be positive and increasing")
        else:
            raise self.err(where, "expected {start, stop, step} or a list of wavelengths (nm)")
        return wl

    def parse_study(self, raw, kind, layers) -> StudySettings:
        st = self.table(raw, "study", "study", required=True)
        self.check_keys(st, _STUDY_KEYS, "study")
        name = self.string(st, "name", "study.name")
        if not name:
            raise self.err("study.name", "missing: each study needs a name (one study per name in the storage)")
        objectives = st.get("objectives", ["pce"])
        if isinstance(objectives, str):
            objectives = [objectives]
        if not isinstance(objectives, list) or not objectives:
            raise self.err("study.objectives", "expected a non-empty list such as [\"pce\"]")
        for j, o in enumerate(objectives):
            if o not in OBJECTIVES:
                hint = did_you_mean(o, OBJECTIVES)
                raise self.err(f"study.objectives[{j}]",
                               f"unknown objective {o!r}{hint}; choose from {', '.join(OBJECTIVES)}")
        if len(set(objectives)) != len(objectives):
            raise self.err("study.objectives", "an objective is listed twice")
        if objectives[0] not in ("pce", "energy_yield"):
            raise self.err("study.objectives[0]", "the first objective must be \"pce\" or \"energy_yield\"")
        if "avt" in objectives or "lue" in objectives:
            if kind != "semitransparent":
                raise self.err("study.objectives", "AVT/LUE objectives need device.kind = \"semitransparent\"")
        sampler = self.string(st, "sampler", "study.sampler", "tpe", SAMPLERS)
        if len(objectives) > 1 and sampler not in MULTI_OBJECTIVE_SAMPLERS:
            raise self.err("study.sampler", f"{sampler!r} is single-objective; for "
                                            f"{len(objectives)} objectives use nsga2 or tpe")
        seed = self.number(st, "seed", "study.seed", None, integer=True, nonneg=True)
        n_trials = self.number(st, "n_trials", "study.n_trials", 100, integer=True, positive=True)
        timeout = self.number(st, "timeout_s", "study.timeout_s", None, positive=True)
        batch = self.number(st, "batch_size", "study.batch_size", 16, integer=True, positive=True)
        grid_points = self.number(st, "grid_points", "study.grid_points", 5, integer=True, positive=True)
        storage = self.string(st, "storage", "study.storage")
        opts = self.table(st, "sampler_options", "study.sampler_options") or {}
        constraints = st.get("constraints", [])
        if not isinstance(constraints, list) or not all(isinstance(c, dict) for c in constraints):
            raise self.err("study.constraints", "expected [[study.constraints]] tables")
        cons = []
        for j, c in enumerate(constraints):
            where = f"study.constraints[{j}]"
            self.check_keys(c, _CONSTRAINT_KEYS, where)
            metric = self.string(c, "metric", f"{where}.metric", choices=METRICS)
            if metric is None:
                raise self.err(f"{where}.metric", f"missing; one of {', '.join(METRICS)}")
            lo = self.number(c, "min", f"{where}.min")
            hi = self.number(c, "max", f"{where}.max")
            if lo is None and hi is None:
                raise self.err(where, "give min and/or max")
            if lo is not None and hi is not None and lo > hi:
                raise self.err(where, f"min = {lo:g} is greater than max = {hi:g}")
            if metric.startswith("bottom_") or "mismatch" in metric:
                if kind not in ("2T", "4T"):
                    raise self.err(f"{where}.metric", f"{metric} needs a 2T or 4T device")
            cons.append(ConstraintSpec(metric, None if lo is None else float(lo),
                                       None if hi is None else float(hi)))
        return StudySettings(
            name=name, objectives=tuple(objectives), sampler=sampler, seed=seed,
            n_trials=int(n_trials), timeout_s=None if timeout is None else float(timeout),
            batch_size=int(batch), grid_points=int(grid_points), storage=storage,
            sampler_options=tuple(opts.items()), constraints=tuple(cons),
            description=self.string(st, "description", "study.description", "") or "",
        )
