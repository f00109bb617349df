"""Devices: single-junction, semitransparent, 2-terminal and 4-terminal tandems.

One optical solve per design (batched: one ``optics.solve_arrays`` call per group of
same-shaped stacks) gives the absorptance of every layer; the photo-active layers'
absorptance times the IQE is the EQE, from which ``tandem.electrical`` builds each
subcell's detailed-balance diode (Rau reciprocity + ERE + Rs/Rsh/ideality).

* "single": opaque single junction (``top`` only).
* "semitransparent": single junction reporting AVT, LUE, CIE 1931 xy and CRI of T.
* "2T": monolithic series tandem: voltages add at a common current; full tandem J-V,
  current mismatch, limiting cell; optional luminescent coupling (a fraction of the top
  cell's radiative recombination current, taken as ERE x its diode current, becomes bottom
  photocurrent; Steiner et al., IEEE J. Photovolt. 3, 879 (2013)). The stack must name its
  recombination/interconnect layer(s) between the two absorbers.
* "4T": both subcells in one optical stack (the bottom cell sees exactly the light the
  top cell and its transparent electrodes pass), each at its own maximum power point.

Light trapping ("lambertian", or "tiedje" for its weak-absorption form) replaces the planar
absorptance of the bottom absorber (the top absorber for single junctions) by the Lambertian
(4 n^2) limit of a textured wafer with a perfect rear reflector, applied to the light that
enters it; see ``optics.light_trapping``. Light trapping "pyramids" ray-traces the pyramid
texture of the stack's one incoherent layer (the wafer) with every film above and below it
conformal on the facets (``Design.texture``: front and rear ``optics.texture.Texture``); see
``optics.redistribution``.

This module holds the inputs (``Subcell``, ``Design``) and results (``SubcellResult``,
``DeviceResult``, ``BatchResult``); ``tandem.evaluation`` computes the one from the other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from optics import Stack
from optics.grid import check_wavelengths
from optics.solver import check_angle
from optics.light_trapping import lambertian_absorptance  # noqa: F401  (public here since 0.1)
from optics.spectra import HC_EV_NM, spectrum_table
from optics.surfaces import WaferTexture

from .presets import get_preset
from .transport import Transport, get_transport
from .vocabulary import COLLECTION_MODELS, DEVICE_METRICS, KINDS, LIGHT_TRAPPING, TRANSPORT_KEYS, non_absorber_categories

__all__ = ["Subcell", "Design", "SubcellResult", "DeviceResult", "BatchResult",
           "KINDS", "DEFAULT_WAVELENGTHS_NM", "lambertian_absorptance"]

#: Default optical grid: 300-1200 nm in 5 nm steps (extended to cover narrow-gap absorbers).
DEFAULT_WAVELENGTHS_NM = tuple(np.arange(300.0, 1200.0 + 1e-9, 5.0).tolist())


def _grid_array(key: tuple) -> np.ndarray:
    """The grid of ``Design.grid_key()``, a new array (callers may modify it)."""
    if key[0] == "nm":
        return np.asarray(key[1], dtype=float)
    _, start, end = key
    if start == 300.0 and end == 1200.0:
        return np.asarray(DEFAULT_WAVELENGTHS_NM)
    return np.arange(start, end + 1e-9, 5.0)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Subcell:
    """Electrical description of one subcell.

    absorber : index into ``design.stack.layers`` of the photo-active layer.
    preset : name in ``tandem.electrical.PRESETS``.
    ere, rs_ohm_cm2, rsh_ohm_cm2, ideality : override the preset (None = preset value).
    iqe : internal quantum efficiency (0..1), EQE = IQE x absorptance (x collection).
    si_doping_cm3 : n-type doping of the wafer for the "Si_intrinsic" preset (0 = undoped).
    collection : "drift-diffusion" (default): carrier collection and thickness-dependent
        recombination from the transport parameters (``tandem.collection``), for presets
        with transport data (``tandem.transport.TRANSPORT``; others collect ideally);
        "ideal": every absorbed photon collected (constant IQE), non-radiative recombination
        independent of the thickness.
    transport : overrides of the preset's transport parameters, a dict with keys of
        ``tandem.transport.TRANSPORT_KEYS`` (e.g. {"mobility_e_cm2_vs": 0.05}), or a full
        ``tandem.transport.Transport``. A thin film's architecture ("pin"/"nip") follows the
        transport layers next to the absorber (HTL in front: "pin") unless given here.
    """

    absorber: int
    preset: str = "CsPbI3_QD"
    ere: float | None = None
    rs_ohm_cm2: float | None = None
    rsh_ohm_cm2: float | None = None
    ideality: float | None = None
    iqe: float = 1.0
    si_doping_cm3: float = 0.0
    collection: str = "drift-diffusion"
    transport: Any = None

    def __post_init__(self):
        if isinstance(self.absorber, bool) or not isinstance(self.absorber, (int, np.integer)):
            raise ValueError(f"Subcell.absorber must be a layer index (int), got {self.absorber!r}")
        get_preset(self.preset)
        if self.ere is not None and not (0 < self.ere <= 1):
            raise ValueError(f"Subcell.ere (external radiative efficiency) must lie in (0, 1], got {self.ere}")
        if self.rs_ohm_cm2 is not None and not (self.rs_ohm_cm2 >= 0 and math.isfinite(self.rs_ohm_cm2)):
            raise ValueError(f"Subcell.rs_ohm_cm2 (series resistance) must be finite and >= 0, got {self.rs_ohm_cm2}")
        if self.rsh_ohm_cm2 is not None and not (self.rsh_ohm_cm2 > 0):
            raise ValueError(f"Subcell.rsh_ohm_cm2 (shunt resistance) must be > 0, got {self.rsh_ohm_cm2}")
        if self.ideality is not None and not (0.5 <= self.ideality <= 5):
            raise ValueError(f"Subcell.ideality must lie in [0.5, 5], got {self.ideality}")
        if not (0 <= self.iqe <= 1):
            raise ValueError(f"Subcell.iqe must lie in [0, 1], got {self.iqe}")
        if not (self.si_doping_cm3 >= 0):
            raise ValueError(f"Subcell.si_doping_cm3 must be >= 0, got {self.si_doping_cm3}")
        if self.collection not in COLLECTION_MODELS:
            raise ValueError(f"Subcell.collection must be one of {COLLECTION_MODELS}, got {self.collection!r}")
        t = self.transport
        if isinstance(t, dict):
            base = get_transport(self.preset)
            if base is None:
                missing = sorted(set(TRANSPORT_KEYS) - set(t))
                if missing:
                    raise ValueError(f"Subcell.transport: preset {self.preset!r} has no transport data; "
                                     f"give every key (missing {missing})")
                base = Transport(**{k: t[k] for k in TRANSPORT_KEYS}, reference_nm=1000.0,
                                 reference="user")
            object.__setattr__(self, "transport", (base.with_overrides("Subcell.transport", **t), tuple(t)))
        elif isinstance(t, Transport):
            object.__setattr__(self, "transport", (t, tuple(TRANSPORT_KEYS)))
        elif t is not None:
            raise ValueError(f"Subcell.transport must be a dict of overrides or a tandem.transport.Transport, "
                             f"got {type(t).__name__}")

    def transport_params(self) -> tuple[Transport | None, bool]:
        """(resolved Transport or None for ideal collection, True if the architecture was given)."""
        if self.collection == "ideal":
            return None, False
        if self.transport is not None:
            t, keys = self.transport
            return t, "architecture" in keys
        return get_transport(self.preset), False

    @property
    def parameters(self) -> dict[str, float]:
        """Resolved ere, rs_ohm_cm2, rsh_ohm_cm2, ideality (overrides, else preset)."""
        p = get_preset(self.preset)
        pick = lambda own, default: float(default if own is None else own)  # noqa: E731
        return {
            "ere": pick(self.ere, p.ere),
            "rs_ohm_cm2": pick(self.rs_ohm_cm2, p.rs_ohm_cm2),
            "rsh_ohm_cm2": pick(self.rsh_ohm_cm2, p.rsh_ohm_cm2),
            "ideality": pick(self.ideality, p.ideality),
        }


@dataclass(frozen=True, eq=False)
class Design:
    """One device to evaluate; see the module docstring for the kinds.

    wavelengths_nm : optical grid (nm); default 300-1200 nm in 5 nm steps, extended
        to 150 nm beyond the band edge of an absorber that reports ``bandgap_ev``, and kept
        within the materials' ``wl_min_nm``/``wl_max_nm`` (start at most 350 nm). The EQE is taken as zero
        outside the grid, for Jsc and for the reciprocity J0,rad.
    temperature_k : cell temperature for the detailed balance (K).
    spectrum : illumination, "AM1.5G" (default), "AM1.5D", "AM0" or a name registered with
        ``optics.spectra.register_spectrum``; PCE is relative to its integrated irradiance.
        (AVT and colour always use AM1.5G / the CIE observer, by their definitions.)
    angle_deg : angle of incidence; the irradiance per unit cell area is kept at the
        spectrum's value (no cos factor), i.e. PCE is relative to the light reaching the cell.
    texture : ``optics.texture.WaferTexture``, the front and rear surfaces of the wafer when
        ``light_trapping = "pyramids"`` (default random upright pyramids on both).
    """

    stack: Stack
    kind: str
    top: Subcell
    bottom: Subcell | None = None
    interconnect: tuple[int, ...] = ()
    wavelengths_nm: tuple[float, ...] | None = None
    angle_deg: float = 0.0
    temperature_k: float = 298.15
    light_trapping: str = "none"
    luminescent_coupling: float = 0.0
    spectrum: str = "AM1.5G"
    texture: WaferTexture = WaferTexture()

    def __post_init__(self):
        if not isinstance(self.stack, Stack):
            raise ValueError(f"Design.stack must be an optics.Stack, got {type(self.stack).__name__}")
        if self.kind not in KINDS:
            raise ValueError(f"Design.kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.top, Subcell):
            raise ValueError("Design.top must be a tandem.Subcell")
        object.__setattr__(self, "interconnect", tuple(int(i) for i in self.interconnect))
        n_layers = len(self.stack.layers)
        tandem = self.kind in ("2T", "4T")
        if tandem and not isinstance(self.bottom, Subcell):
            raise ValueError(f"a {self.kind} design needs a bottom Subcell")
        if not tandem and self.bottom is not None:
            raise ValueError(f"a {self.kind!r} design has no bottom cell; use kind '2T' or '4T'")
        for role, cell in (("top", self.top), ("bottom", self.bottom)):
            if cell is not None:
                self._check_absorber(role, cell, n_layers)
        if tandem and self.bottom.absorber <= self.top.absorber:
            raise ValueError(
                f"bottom absorber (layer {self.bottom.absorber}) must come after the top absorber "
                f"(layer {self.top.absorber}) along the light path"
            )
        if self.kind == "2T":
            if not self.interconnect:
                raise ValueError(
                    "a 2T design needs its recombination/interconnect layer(s): give Design.interconnect, "
                    "the indices of those layers between the two absorbers"
                )
            for i in self.interconnect:
                if not (self.top.absorber < i < self.bottom.absorber):
                    raise ValueError(
                        f"interconnect layer {i} must lie between the top absorber (layer {self.top.absorber}) "
                        f"and the bottom absorber (layer {self.bottom.absorber})"
                    )
        elif self.interconnect and self.kind != "4T":
            raise ValueError(f"interconnect layers are only meaningful for 2T designs, not {self.kind!r}")
        if self.light_trapping not in LIGHT_TRAPPING:
            raise ValueError(f"Design.light_trapping must be one of {LIGHT_TRAPPING}, got {self.light_trapping!r}")
        if self.light_trapping in ("lambertian", "tiedje") and self.kind == "semitransparent":
            raise ValueError("Lambertian light trapping assumes an ideal rear mirror: not for a semitransparent design")
        if not isinstance(self.texture, WaferTexture):
            raise ValueError(f"Design.texture must be an optics.texture.WaferTexture, got {type(self.texture).__name__}")
        if self.light_trapping == "pyramids":
            inc = [i for i, layer in enumerate(self.stack.layers) if not layer.coherent]
            if len(inc) != 1:
                raise ValueError(
                    "Design.light_trapping = 'pyramids' textures the wafer: the stack needs exactly one incoherent "
                    f"(coherent = false) layer, the wafer, and has {len(inc)}"
                )
        lc = float(self.luminescent_coupling)
        if not (0 <= lc <= 1):
            raise ValueError(f"Design.luminescent_coupling must lie in [0, 1], got {lc}")
        if lc > 0 and self.kind != "2T":
            raise ValueError("luminescent coupling applies to 2T designs only")
        if not (math.isfinite(self.temperature_k) and self.temperature_k > 0):
            raise ValueError(f"Design.temperature_k must be > 0 K, got {self.temperature_k}")
        spectrum_table(self.spectrum)  # ValueError naming the known spectra
        try:
            object.__setattr__(self, "angle_deg", check_angle(self.angle_deg))
        except ValueError:
            raise ValueError(f"Design.angle_deg must be a real angle in [0, 90) degrees, got {self.angle_deg!r}") from None
        if self.wavelengths_nm is not None:
            wl = check_wavelengths(self.wavelengths_nm, increasing=True, min_points=2, what="Design.wavelengths_nm")
            object.__setattr__(self, "wavelengths_nm", tuple(wl.tolist()))

    def _check_absorber(self, role: str, cell: Subcell, n_layers: int) -> None:
        i = cell.absorber
        if not (0 <= i < n_layers):
            raise ValueError(f"{role} absorber index {i} is out of range: the stack has {n_layers} layers (0-{n_layers - 1})")
        layer = self.stack.layers[i]
        category = getattr(layer.material, "category", None)
        if isinstance(category, str) and category in non_absorber_categories():
            raise ValueError(
                f"{role} absorber index {i} names layer {layer.label!r}, a {category!r} layer, not an absorber"
            )
        if isinstance(layer.material, (int, float, complex, np.number)) and complex(layer.material).imag <= 0:
            raise ValueError(f"{role} absorber index {i} names layer {layer.label!r}, which does not absorb (k = 0)")
        if layer.thickness_nm <= 0:
            raise ValueError(f"{role} absorber layer {i} ({layer.label!r}) has zero thickness")
        eg = getattr(layer.material, "bandgap_ev", None)
        rng = get_preset(cell.preset).bandgap_range_ev
        if eg is not None and rng is not None and not (rng[0] <= eg <= rng[1]):
            raise ValueError(
                f"{role} absorber {layer.label!r} has a band gap of {eg:g} eV, outside the "
                f"{rng[0]:g}-{rng[1]:g} eV range of the {cell.preset!r} electrical preset"
            )
        t, _ = cell.transport_params()
        if t is not None and eg is not None:
            t.for_gap(eg).check(f"{role} subcell", bandgap_ev=float(eg))

    def transport(self, cell: Subcell) -> Transport | None:
        """The transport parameters of ``cell`` in this stack, or None (ideal collection).

        V_bi follows the absorber's gap where the preset gives a deficit
        (``Transport.vbi_deficit_v``). A thin film's architecture follows its nearest transport layers: a hole-transport
        layer on the light side (or an electron-transport layer behind) makes it "pin", the
        reverse "nip"; without transport layers, or when ``Subcell.transport`` names the
        architecture, the given one holds.
        """
        t, given = cell.transport_params()
        if t is None or t.architecture == "wafer":
            return t
        layers = self.stack.layers
        i = cell.absorber
        cats = tuple(getattr(layer.material, "category", None) for layer in layers)
        return _oriented(t, given, getattr(layers[i].material, "bandgap_ev", None), cats, i)


    @property
    def subcells(self) -> tuple[Subcell, ...]:
        return (self.top,) if self.bottom is None else (self.top, self.bottom)

    def wavelengths(self) -> np.ndarray:
        """The optical grid in nm (see class docstring)."""
        return _grid_array(self.grid_key())

    def grid_key(self) -> tuple:
        """A hashable key of ``wavelengths()``: equal keys, equal grids (cheaper than the grid)."""
        if self.wavelengths_nm is not None:
            return ("nm", self.wavelengths_nm)
        start, end = 300.0, 1200.0
        for cell in self.subcells:
            eg = getattr(self.stack.layers[cell.absorber].material, "bandgap_ev", None)
            if eg:
                end = max(end, 5.0 * math.ceil((HC_EV_NM / eg + 150.0) / 5.0))
        # do not ask any material outside its tabulated range (nkdata raises there); the
        # AM1.5G photon flux below 310 nm is negligible
        materials = [layer.material for layer in self.stack.layers] + [self.stack.incident, self.stack.exit]
        lows = [getattr(m, "wl_min_nm", None) for m in materials]
        highs = [getattr(m, "wl_max_nm", None) for m in materials]
        lows = [float(x) for x in lows if isinstance(x, (int, float)) and math.isfinite(x)]
        highs = [float(x) for x in highs if isinstance(x, (int, float)) and math.isfinite(x)]
        if lows and max(lows) > start:
            start = min(5.0 * math.ceil(max(lows) / 5.0), 350.0)
        if end > 1200.0 and highs:
            end = max(1200.0, min(end, 5.0 * math.floor(min(highs) / 5.0)))
        return ("range", start, end)

    @property
    def lt_absorber(self) -> int | None:
        """Index of the layer that gets Lambertian light trapping, or None ("none", and "pyramids",
        which ray-traces the whole wafer instead)."""
        if self.light_trapping in ("none", "pyramids"):
            return None
        return (self.bottom or self.top).absorber


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SubcellResult:
    """One subcell on its own J-V curve (its own MPP), plus its operating point in the device.

    jsc_ma_cm2: terminal current at V = 0; jph_ma_cm2: optical (photo)current = q int EQE phi;
    voc_v, vmpp_v: V; ff_pct, pce_pct: %; j0_rad: radiative J0 (mA/cm^2); eqe [W];
    jv: (voltage_v [N], current_ma_cm2 [N]), voltage increasing; voc_rad_v: radiative-limit Voc;
    v_operating_v: the subcell's voltage at the device's operating point (2T: the tandem MPP).
    eqe_ideal [W], jph_ideal_ma_cm2: EQE and photocurrent had every absorbed photon been
    collected (equal to eqe, jph_ma_cm2 with ideal collection); collection_pct [Z] at the
    depths z_rel [Z] (0 = light-facing face, 1 = back) of the absorber at short circuit
    (None with ideal collection).
    """

    jsc_ma_cm2: float
    voc_v: float
    ff_pct: float
    pce_pct: float
    vmpp_v: float
    jmpp_ma_cm2: float
    j0_rad: float
    eqe: np.ndarray
    jv: tuple[np.ndarray, np.ndarray]
    jph_ma_cm2: float = float("nan")
    voc_rad_v: float = float("nan")
    ere: float = float("nan")
    v_operating_v: float = float("nan")
    eqe_ideal: np.ndarray | None = None
    jph_ideal_ma_cm2: float = float("nan")
    collection_pct: np.ndarray | None = None
    z_rel: np.ndarray | None = None




@dataclass(frozen=True, eq=False)
class DeviceResult:
    """Everything about one evaluated design.

    pce_pct: device PCE (2T: series MPP; 4T: sum of subcell MPPs; single: the cell's).
    voc_v, jsc_ma_cm2, ff_pct, vmpp_v, jmpp_ma_cm2: of the device J-V (2T: the tandem curve;
    single: the cell; 4T: NaN). pmax_mw_cm2: output power density (4T: sum of both cells).
    mismatch_ma_cm2: top - bottom photocurrent (NaN without a bottom cell);
    limiting: the subcell with the lower photocurrent (2T/4T) or None.
    avt_pct, lue_pct, cie_xy, cri: for semitransparent designs (NaN / None otherwise).
    optics: the OpticsResult of this design (with light trapping applied).
    jv: tandem J-V (voltage_v, current_ma_cm2) for 2T, the cell's J-V for single junctions.
    """

    kind: str
    pce_pct: float
    top: SubcellResult
    bottom: SubcellResult | None
    mismatch_ma_cm2: float
    limiting: str | None
    avt_pct: float
    lue_pct: float
    cie_xy: tuple[float, float] | None
    cri: float
    optics: Any
    jv: tuple[np.ndarray, np.ndarray] | None
    voc_v: float = float("nan")
    jsc_ma_cm2: float = float("nan")
    ff_pct: float = float("nan")
    vmpp_v: float = float("nan")
    jmpp_ma_cm2: float = float("nan")
    pmax_mw_cm2: float = float("nan")

    def to_dict(self) -> dict[str, float]:
        """Flat scalars (NaN where not applicable)."""
        nan = float("nan")
        b = self.bottom
        xy = self.cie_xy if self.cie_xy is not None else (nan, nan)
        return {
            "pce_pct": self.pce_pct, "voc_v": self.voc_v, "jsc_ma_cm2": self.jsc_ma_cm2, "ff_pct": self.ff_pct,
            "top_jsc_ma_cm2": self.top.jsc_ma_cm2, "top_jph_ma_cm2": self.top.jph_ma_cm2,
            "top_voc_v": self.top.voc_v, "top_ff_pct": self.top.ff_pct, "top_pce_pct": self.top.pce_pct,
            "bottom_jsc_ma_cm2": b.jsc_ma_cm2 if b else nan, "bottom_jph_ma_cm2": b.jph_ma_cm2 if b else nan,
            "bottom_voc_v": b.voc_v if b else nan, "bottom_ff_pct": b.ff_pct if b else nan,
            "bottom_pce_pct": b.pce_pct if b else nan,
            "mismatch_ma_cm2": self.mismatch_ma_cm2, "avt_pct": self.avt_pct, "lue_pct": self.lue_pct,
            "cie_x": float(xy[0]), "cie_y": float(xy[1]), "cri": self.cri,
        }

    def to_frame(self):
        """One-row pandas DataFrame of ``to_dict()`` plus ``kind`` and ``limiting``."""
        import pandas as pd

        row = {"kind": self.kind, "limiting": self.limiting, **self.to_dict()}
        return pd.DataFrame([row])


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Results of ``evaluate_batch``: one DeviceResult per design, and a DataFrame view."""

    results: tuple[DeviceResult, ...]

    @cached_property
    def frame(self):
        """pandas DataFrame, one row per design: ``kind``, ``limiting`` and the
        ``tandem.vocabulary.DEVICE_METRICS``. Built on first access, so that a study loop,
        which reads ``results`` only, neither imports pandas nor builds a frame per batch."""
        import pandas as pd

        return pd.DataFrame([{"kind": r.kind, "limiting": r.limiting, **r.to_dict()} for r in self.results],
                            columns=["kind", "limiting", *DEVICE_METRICS])

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i) -> DeviceResult:
        return self.results[i]


def __getattr__(name: str):
    # evaluate / evaluate_batch live in tandem.evaluation (which imports this module)
    if name in ("evaluate", "evaluate_batch"):
        from . import evaluation as _evaluate

        return getattr(_evaluate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@lru_cache(maxsize=4096)
def _oriented(t: Transport, given: bool, bandgap_ev, cats: tuple, i: int) -> Transport:
    """``Design.transport`` for a stack with material categories ``cats`` and absorber ``i``."""
    t = t.for_gap(bandgap_ev)
    if given:
        return t
    found = None
    for side, rng in ((0, range(i - 1, -1, -1)), (1, range(i + 1, len(cats)))):
        for j in rng:
            cat = cats[j]
            if cat in ("htl", "etl"):
                found = "pin" if (cat == "htl") == (side == 0) else "nip"
                break
            if isinstance(cat, str) and cat.endswith("absorber"):
                break
        if found:
            break
    if found is None or found == t.architecture:
        return t
    return replace(t, architecture=found)
