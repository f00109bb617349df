"""The device vocabulary: the one place that names device kinds, light-trapping models
and the metrics a device evaluation reports.

``tandem.device`` validates designs against these names and ``studies`` (study files,
objectives, reports) imports them, so a new kind, light-trapping model or metric is added
here once. Material categories belong to the materials and live in
``nkdata.material.CATEGORIES``; the ones that can never be a photo-active layer are
derived from them here.

This module imports nothing heavy (the study-file parser imports it at start-up).
"""
from __future__ import annotations

__all__ = ["COLLECTION_MODELS", "ARCHITECTURES", "TRANSPORT_KEYS", "KINDS", "TANDEM_KINDS", "LIGHT_TRAPPING", "DEVICE_METRICS", "YIELD_METRICS", "MOUNTINGS",
           "non_absorber_categories"]

#: Device kinds: opaque single junction, semitransparent single junction, monolithic
#: series tandem (2 terminals), mechanically stacked / optically coupled tandem (4 terminals).
KINDS = ("single", "semitransparent", "2T", "4T")
#: The kinds with a bottom subcell.
TANDEM_KINDS = ("2T", "4T")

#: Light-trapping models ("none": planar optics as solved; "lambertian": the 4 n^2 limit of
#: the absorber behind which an ideal rear reflector sits; "tiedje": the same limit in its
#: weak-absorption form, as in Richter et al.'s Si limit; see ``optics.light_trapping``;
#: "pyramids": ray optics on a pyramid-textured wafer with every film conformal on the facets,
#: see ``optics.redistribution``).
LIGHT_TRAPPING = ("none", "lambertian", "tiedje", "pyramids")

#: The scalar metrics of ``tandem.DeviceResult.to_dict()``, in column order of
#: ``BatchResult.frame`` (units in the suffix: %, V, mA/cm^2; CIE x, y and CRI are unitless).
DEVICE_METRICS = (
    "pce_pct", "voc_v", "jsc_ma_cm2", "ff_pct",
    "top_jsc_ma_cm2", "top_jph_ma_cm2", "top_voc_v", "top_ff_pct", "top_pce_pct",
    "bottom_jsc_ma_cm2", "bottom_jph_ma_cm2", "bottom_voc_v", "bottom_ff_pct", "bottom_pce_pct",
    "mismatch_ma_cm2", "avt_pct", "lue_pct", "cie_x", "cie_y", "cri",
)

#: The scalar metrics of an annual energy-yield calculation (``tandem.energy_yield.YieldResult
#: .to_dict()``): energies in kWh/m^2 of cell area over the weather file's year, efficiencies and
#: the loss cascade in %, the irradiance-weighted cell temperature in deg C, the energy-weighted
#: 2T current mismatch (top - bottom) in mA/cm^2, for semitransparent cells the light transmitted
#: into the room (kWh/m^2 over the optical grid) and its luminous exposure (klx h).
YIELD_METRICS = (
    "energy_yield_kwh_m2", "incident_kwh_m2", "ehe_pct", "stc_pce_pct", "performance_ratio_pct",
    "loss_low_light_pct", "loss_spectral_pct", "loss_angle_pct", "loss_temperature_pct",
    "temp_cell_mean_c", "mismatch_mean_ma_cm2", "transmitted_kwh_m2", "daylight_klxh",
)
#: Module mountings of an energy-yield calculation (``tandem.weather.Mounting``).
MOUNTINGS = ("fixed", "vertical", "tracking")


def non_absorber_categories() -> tuple[str, ...]:
    """The ``nkdata`` material categories that can never hold a photo-active layer.

    Every category except "absorber" and "bottom_absorber": substrates, TCOs, transport
    layers, electrodes, anti-reflection coatings and surrounding media. nkdata is imported
    here, not at module level, to keep this module cheap to import.
    """
    from nkdata.material import CATEGORIES

    return tuple(c for c in CATEGORIES if not c.endswith("absorber"))


#: Carrier-collection models of a subcell (``tandem.Subcell.collection``): drift-diffusion
#: collection and thickness-dependent recombination from the transport parameters
#: (``tandem.collection``), or every absorbed photon collected (constant IQE).
COLLECTION_MODELS = ("drift-diffusion", "ideal")
#: Absorber architectures: hole contact on the light side, electron contact on the light side,
#: diffusion-limited wafer.
ARCHITECTURES = ("pin", "nip", "wafer")
#: Transport parameters a subcell may override (``tandem.transport.Transport``), with units.
TRANSPORT_KEYS = {
    "mobility_e_cm2_vs": "electron mobility (cm^2/V s)",
    "mobility_h_cm2_vs": "hole mobility (cm^2/V s)",
    "lifetime_e_ns": "electron lifetime (ns)",
    "lifetime_h_ns": "hole lifetime (ns)",
    "vbi_v": "built-in voltage (V)",
    "architecture": "architecture ('pin', 'nip' or 'wafer')",
    "s_front_cm_s": "front-interface recombination velocity (cm/s)",
    "s_back_cm_s": "back-interface recombination velocity (cm/s)",
}
