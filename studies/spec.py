"""Study files and simulate files: TOML descriptions of a device and its design space.

A *simulate file* (``qdtandem simulate STACK.toml``) describes one device with every
thickness and bandgap fixed. A *study file* (``qdtandem optimize STUDY.toml``) has the same
``[device]`` and ``[[layers]]`` tables, may leave thicknesses (nm) and bandgaps (eV) free
between bounds, and adds a ``[study]`` table (objectives, constraints, sampler, budget).

Layout (all keys are checked; an unknown key is an error that names it)::

    [study]                                   # study files only
    name = "cspbi3qd_si_2t"                   # one study per name in the storage
    objectives = ["pce"]                      # "pce" or "energy_yield" first (annual kWh/m^2 at the
                                              # [yield] site), then optionally "avt" | "lue" (maximised,
                                              # semitransparent only), "absorber_thickness" |
                                              # "total_thickness" (minimised), "pce" | "energy_yield"
    sampler = "tpe"                           # "tpe" | "cmaes" | "nsga2" | "qmc" | "random" | "grid"
    seed = 1
    n_trials = 300                            # finished trials wanted in the study (resume tops up)
    timeout_s = 600.0                         # optional, per run
    batch_size = 16                           # trials asked and evaluated in one tandem call
    grid_points = 5                           # grid sampler: points per free parameter without a step
    storage = "my.db"                         # optional: SQLite file (relative to this file) or any
                                              # optuna URL; default: <study file stem>.db beside it
    [study.sampler_options]                   # optional keyword arguments of the optuna sampler
    n_startup_trials = 20
    [[study.constraints]]                     # feasible when min <= metric <= max
    metric = "abs_mismatch_ma_cm2"            # any DeviceResult.to_dict() key, or a derived metric
    max = 0.5

    [device]
    kind = "2T"                               # "single" | "semitransparent" | "2T" | "4T"
    incident = "air"                          # nkdata name or a number (refractive index)
    exit = "air"
    interconnect = ["recombination_ITO"]      # layer names (2T: required)
    wavelengths_nm = {start = 300, stop = 1200, step = 5}   # optional (or a list); default:
                                              # tandem's grid. Every material must cover it (checked)
    angle_deg = 0.0
    temperature_k = 298.15
    light_trapping = "none"                   # "none" | "lambertian" | "pyramids"
    luminescent_coupling = 0.0
    [device.texture]                          # light_trapping = "pyramids" only; these are the defaults
    front = "random_upright"                  # | "regular_upright" | "regular_inverted" | "planar"
    rear = "random_upright"                   # films above/below the one incoherent layer are conformal
    facet_deg = 54.74
    [device.top]                              # electrical model of the top (or only) subcell
    absorber = "qd"                           # layer name or index into [[layers]]
    preset = "CsPbI3_QD"                      # tandem.electrical.PRESETS key
    # ere, rs_ohm_cm2, rsh_ohm_cm2, ideality, iqe: optional overrides
    [device.bottom]                           # 2T and 4T
    absorber = "si"
    preset = "Si_HJT"

    [yield]                                   # optional: energy-yield objective / metrics / qdtandem yield
    site = "greensboro"                       # "greensboro" | "sand_point" | "miami" (pvlib's TMY files)
    # weather = "my_city.epw"                 # ... or a TMY3/TMY2/EPW file (relative to this file)
    mounting = "fixed"                        # "fixed" | "vertical" | "tracking"
    tilt_deg = 30.0                           # fixed: 0-90, default the site's latitude
    azimuth_deg = 180.0                       # default: facing the equator
    transposition = "perez"                   # "perez" | "isotropic" | "haydavies"

    [[layers]]                                # in the order light meets them
    name = "qd"                               # unique; defaults to the material name
    material = "CsPbI3_QD"                    # nkdata name ...
    # nk = [2.0, 0.0]                         # ... or a constant n (+ k) instead
    thickness_nm = {min = 200, max = 900}     # free (optional "step", "log"), or a number
    bandgap_ev = {min = 1.70, max = 1.80}     # tunable absorbers only: free or a number
    coherent = true                           # false for thick layers (glass, wafers)

Free parameters are named ``<layer>.thickness_nm`` and ``<layer>.bandgap_ev``.
Derived metrics available to constraints and objectives, besides the ``DeviceResult.to_dict()``
keys: ``abs_mismatch_ma_cm2`` (|top Jsc - bottom Jsc|), ``total_thickness_nm`` (sum of the
coherent thin-film layers; thick incoherent substrates and wafers excluded) and
``absorber_thickness_nm`` (top plus bottom absorber), and, when the study asks for energy yield
(objective "energy_yield" or a constraint on one of them), the annual-yield metrics
``tandem.vocabulary.YIELD_METRICS`` (``energy_yield_kwh_m2``, ``ehe_pct``, ...).
"""
from __future__ import annotations

import math
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from tandem.vocabulary import DEVICE_METRICS, KINDS, LIGHT_TRAPPING, YIELD_METRICS  # noqa: F401 (file format)

SAMPLERS = ("tpe", "cmaes", "nsga2", "qmc", "random", "grid")
MULTI_OBJECTIVE_SAMPLERS = ("tpe", "nsga2", "qmc", "random", "grid")

#: objective alias -> (metric, optuna direction)
OBJECTIVES: dict[str, tuple[str, str]] = {
    "pce": ("pce_pct", "maximize"),
    "avt": ("avt_pct", "maximize"),
    "lue": ("lue_pct", "maximize"),
    "absorber_thickness": ("absorber_thickness_nm", "minimize"),
    "total_thickness": ("total_thickness_nm", "minimize"),
    "energy_yield": ("energy_yield_kwh_m2", "maximize"),
}

DERIVED_METRICS = ("abs_mismatch_ma_cm2", "total_thickness_nm", "absorber_thickness_nm")
METRICS = DEVICE_METRICS + DERIVED_METRICS + YIELD_METRICS

class StudyFileError(ValueError):
    """A study or simulate file is invalid; the message names the file and the key."""

    def __init__(self, source: str, key: str, message: str):
        self.source = source
        self.key = key
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")


# --------------------------------------------------------------------------- data model

@dataclass(frozen=True)
class Bound:
    """A free parameter's range [low, high] (nm or eV), optionally stepped or log-uniform."""

    low: float
    high: float
    step: float | None = None
    log: bool = False

    def grid(self, points: int) -> list[float]:
        """Grid values for the grid sampler: the step if given, else ``points`` even points."""
        if self.step is not None:
            n = int(math.floor((self.high - self.low) / self.step + 1e-9))
            return [self.low + i * self.step for i in range(n + 1)]
        if self.low == self.high or points == 1:
            return [0.5 * (self.low + self.high)]
        if self.log:
            return list(np.geomspace(self.low, self.high, points))
        return list(np.linspace(self.low, self.high, points))


@dataclass(frozen=True)
class LayerSpec:
    """One layer: a material (nkdata name or constant n + ik) and its thickness (nm)."""

    name: str
    key: str                                  # "layers[3]" for messages
    thickness_nm: float | Bound
    material: str | None = None
    nk: complex | None = None
    bandgap_ev: float | Bound | None = None
    coherent: bool = True


@dataclass(frozen=True)
class SubcellSpec:
    """Electrical model of one subcell; ``absorber`` is the index into the layers."""

    absorber: int
    preset: str | None = None
    options: tuple[tuple[str, float], ...] = ()   # ere, rs_ohm_cm2, rsh_ohm_cm2, ideality, iqe


@dataclass(frozen=True)
class ConstraintSpec:
    """Feasible when ``min <= metric <= max`` (either bound may be absent)."""

    metric: str
    min: float | None = None
    max: float | None = None

    @property
    def name(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f"{self.metric}>={self.min:g}")
        if self.max is not None:
            parts.append(f"{self.metric}<={self.max:g}")
        return ",".join(parts)

    def violation(self, value: float) -> float:
        """Amount by which ``value`` violates the constraint (<= 0 when feasible; inf for NaN)."""
        if not np.isfinite(value):
            return math.inf
        v = -math.inf
        if self.min is not None:
            v = max(v, self.min - value)
        if self.max is not None:
            v = max(v, value - self.max)
        return float(v)


@dataclass(frozen=True)
class StudySettings:
    name: str
    objectives: tuple[str, ...] = ("pce",)
    sampler: str = "tpe"
    seed: int | None = None
    n_trials: int = 100
    timeout_s: float | None = None
    batch_size: int = 16
    grid_points: int = 5
    storage: str | None = None
    sampler_options: tuple[tuple[str, Any], ...] = ()
    constraints: tuple[ConstraintSpec, ...] = ()
    description: str = ""

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o][1] for o in self.objectives]

    @property
    def objective_metrics(self) -> list[str]:
        return [OBJECTIVES[o][0] for o in self.objectives]


@dataclass(frozen=True)
class YieldSpec:
    """The ``[yield]`` table: site (or weather file) and mounting of energy-yield calculations."""

    site: str | None = None
    weather_file: str | None = None
    mounting: str = "fixed"
    tilt_deg: float | None = None
    azimuth_deg: float | None = None
    transposition: str = "perez"

    def conditions(self):
        """Hourly spectra on the module plane (``tandem.energy_yield.yield_conditions``, cached)."""
        from tandem import energy_yield, weather

        mounting = weather.Mounting(self.mounting, tilt_deg=self.tilt_deg, azimuth_deg=self.azimuth_deg)
        return energy_yield.yield_conditions(self.site if self.weather_file is None else None, self.weather_file,
                                             mounting, self.transposition)


@dataclass(frozen=True)
class DeviceSpec:
    """A validated study or simulate file."""

    source: str                                # file path (or "<string>")
    text: str                                  # the file as written
    raw: Mapping[str, Any] = field(repr=False)  # parsed TOML
    kind: str
    layers: tuple[LayerSpec, ...]
    top: SubcellSpec
    bottom: SubcellSpec | None
    interconnect: tuple[int, ...]
    incident: Any
    exit: Any
    wavelengths_nm: tuple[float, ...] | None
    angle_deg: float
    temperature_k: float
    light_trapping: str
    luminescent_coupling: float
    study: StudySettings | None
    texture: Any = None                        # optics.texture.WaferTexture ("pyramids" only)
    yield_spec: YieldSpec | None = None        # [yield] table (None: not given)

    @property
    def wants_yield(self) -> bool:
        """Does the study ask for energy-yield metrics (objective or constraint)?"""
        if self.study is None:
            return False
        used = set(self.study.objective_metrics) | {c.metric for c in self.study.constraints}
        return bool(used & set(YIELD_METRICS))

    def yield_conditions(self):
        """The hourly conditions of the ``[yield]`` table (default: Greensboro, fixed at latitude tilt)."""
        return (self.yield_spec or YieldSpec()).conditions()

    # ------------------------------------------------------------- parameters
    @property
    def parameters(self) -> dict[str, Bound]:
        """Free parameters in file order: ``<layer>.thickness_nm`` (nm), ``<layer>.bandgap_ev`` (eV)."""
        out: dict[str, Bound] = {}
        for layer in self.layers:
            if isinstance(layer.thickness_nm, Bound):
                out[f"{layer.name}.thickness_nm"] = layer.thickness_nm
            if isinstance(layer.bandgap_ev, Bound):
                out[f"{layer.name}.bandgap_ev"] = layer.bandgap_ev
        return out

    @property
    def is_fixed(self) -> bool:
        return not self.parameters

    def layer_role(self, index: int) -> str:
        """What layer ``index`` is in the device: "top absorber", "bottom absorber", "absorber"
        (the one absorber of a single junction), "interconnect", or "" for any other layer."""
        if index == self.top.absorber:
            return "top absorber" if self.bottom is not None else "absorber"
        if self.bottom is not None and index == self.bottom.absorber:
            return "bottom absorber"
        if index in self.interconnect:
            return "interconnect"
        return ""

    def _values(self, values: Mapping[str, float] | None) -> dict[str, float]:
        values = dict(values or {})
        params = self.parameters
        missing = [k for k in params if k not in values]
        if missing:
            raise ValueError(f"{self.source}: no value given for free parameter(s) {missing}")
        unknown = [k for k in values if k not in params]
        if unknown:
            raise ValueError(f"{self.source}: {unknown} are not free parameters of this file; "
                             f"free parameters: {list(params)}")
        return values

    def thicknesses_nm(self, values: Mapping[str, float] | None = None) -> np.ndarray:
        """Layer thicknesses (nm) for parameter ``values``; shape [n_layers]."""
        v = self._values(values)
        return np.array([
            v[f"{lay.name}.thickness_nm"] if isinstance(lay.thickness_nm, Bound) else lay.thickness_nm
            for lay in self.layers
        ], dtype=float)

    def bandgaps_ev(self, values: Mapping[str, float] | None = None) -> dict[str, float]:
        """Bandgap (eV) of every tunable layer, by layer name."""
        v = self._values(values)
        out = {}
        for lay in self.layers:
            if isinstance(lay.bandgap_ev, Bound):
                out[lay.name] = float(v[f"{lay.name}.bandgap_ev"])
            elif lay.bandgap_ev is not None:
                out[lay.name] = float(lay.bandgap_ev)
        return out

    def derived_metrics(self, values: Mapping[str, float] | None = None) -> dict[str, float]:
        """Thickness metrics (nm) that need no simulation."""
        d = self.thicknesses_nm(values)
        coherent = np.array([lay.coherent for lay in self.layers])
        absorbers = [self.top.absorber] + ([self.bottom.absorber] if self.bottom else [])
        return {
            "total_thickness_nm": float(d[coherent].sum()),
            "absorber_thickness_nm": float(sum(d[i] for i in absorbers)),
        }

    # ------------------------------------------------------------- building
    def material(self, index: int, bandgap_ev: float | None = None):
        """The optics material of layer ``index`` (an nkdata Material or a constant index)."""
        lay = self.layers[index]
        if lay.material is None:
            return lay.nk
        import nkdata
        if bandgap_ev is not None:
            return nkdata.get(lay.material, bandgap_ev=float(bandgap_ev))
        return _cached_material(lay.material)

    def stack(self, values: Mapping[str, float] | None = None):
        """The optics.Stack for parameter ``values``."""
        import optics
        d = self.thicknesses_nm(values)
        gaps = self.bandgaps_ev(values)
        layers = tuple(
            optics.Layer(self.material(i, gaps.get(lay.name)), float(d[i]), lay.coherent, lay.name)
            for i, lay in enumerate(self.layers)
        )
        return optics.Stack(layers, incident=medium(self.incident), exit=medium(self.exit))

    def design(self, values: Mapping[str, float] | None = None):
        """The tandem.Design for parameter ``values`` (a dict of free parameter -> value)."""
        import tandem

        def subcell(s: SubcellSpec | None):
            if s is None:
                return None
            kw = dict(s.options)
            if "transport" in kw:
                kw["transport"] = dict(kw["transport"])
            if s.preset is not None:
                kw["preset"] = s.preset
            return tandem.Subcell(absorber=s.absorber, **kw)

        kw: dict[str, Any] = dict(
            stack=self.stack(values), kind=self.kind, top=subcell(self.top),
            bottom=subcell(self.bottom), interconnect=self.interconnect,
            angle_deg=self.angle_deg, temperature_k=self.temperature_k,
            light_trapping=self.light_trapping,
        )
        if self.wavelengths_nm is not None:
            kw["wavelengths_nm"] = self.wavelengths_nm
        if self.kind == "2T":
            kw["luminescent_coupling"] = self.luminescent_coupling
        if self.texture is not None:
            kw["texture"] = self.texture
        return tandem.Design(**kw)

    def fixed_raw(self, values: Mapping[str, float] | None = None, *, keep_study: bool = False
                  ) -> dict[str, Any]:
        """The file's TOML content with every free parameter replaced by its value.

        Without ``keep_study`` the ``[study]`` table is dropped: the result is a simulate file.
        """
        v = self._values(values)
        raw = {k: _deepcopy(val) for k, val in self.raw.items() if keep_study or k != "study"}
        if self.yield_spec is not None and self.yield_spec.weather_file and isinstance(raw.get("yield"), dict):
            # the written file may live elsewhere (runs/<study>/): keep the weather file reachable
            raw["yield"]["weather"] = self.yield_spec.weather_file
        for lay, entry in zip(self.layers, raw["layers"]):
            entry.setdefault("name", lay.name)
            if isinstance(lay.thickness_nm, Bound):
                entry["thickness_nm"] = round(float(v[f"{lay.name}.thickness_nm"]), 4)
            if isinstance(lay.bandgap_ev, Bound):
                entry["bandgap_ev"] = round(float(v[f"{lay.name}.bandgap_ev"]), 6)
        return raw


def _deepcopy(x):
    if isinstance(x, dict):
        return {k: _deepcopy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_deepcopy(v) for v in x]
    return x


_MATERIAL_CACHE: dict[str, Any] = {}


def _cached_material(name: str):
    import nkdata
    if name not in _MATERIAL_CACHE:
        _MATERIAL_CACHE[name] = nkdata.get(name)
    return _MATERIAL_CACHE[name]


def medium(m):
    """The incident or exit medium: the nkdata material of a name, a number as given."""
    if isinstance(m, str):
        return _cached_material(m)
    return m


# --------------------------------------------------------------------------- parsing

def load(path: str | Path, *, require_study: bool | None = None) -> DeviceSpec:
    """Read and validate a study or simulate file.

    ``require_study=True`` demands a ``[study]`` table, ``False`` demands a simulate file
    (no free parameters), ``None`` accepts either.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such study/simulate file") from None
    except UnicodeDecodeError as e:
        line = e.object[:e.start].count(b"\n") + 1
        raise StudyFileError(str(path), "", f"not UTF-8 text (byte 0x{e.object[e.start]:02x} on line {line}); "
                                            "save the file as UTF-8") from None
    return loads(text, source=str(path), require_study=require_study)


def loads(text: str, source: str = "<string>", *, require_study: bool | None = None) -> DeviceSpec:
    """Validate the TOML ``text`` of a study or simulate file (``source`` names it in errors)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise StudyFileError(source, "", f"not valid TOML: {e}") from None
    from .spec_parser import Parser   # the parser builds the data model defined here

    return Parser(source, text, raw, require_study).parse()
