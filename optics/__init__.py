"""optics: vectorised transfer-matrix optics for thin-film solar cells.

Units everywhere: wavelengths and thicknesses in nm, angles in degrees, complex index
n + ik with k >= 0 (absorption), R/T/A as fractions of the incident power, spectral
irradiance in W m^-2 nm^-1, current density in mA/cm^2.

Modules: ``stack`` (Layer, Stack, materials), ``solver`` (R, T, A of stacks and
batches), ``tmm`` and ``incoherent`` (the coherent and mixed coherent/incoherent
numerics, after S. J. Byrnes, arXiv:1603.02720), ``profile`` (A(z), |E|^2 and G(z)),
``spectra`` (spectra, photon flux, Jsc, physical constants), ``grid`` (the wavelength-grid
check), ``light_trapping`` (Lambertian/Tiedje models of a textured absorber),
``reference`` (the ``tmm`` package as a reference engine).

>>> from optics import Layer, Stack, solve, jsc

The depth-profile names (``optics.profile``) are imported on first use (PEP 562): a design
study solves R, T, A only, and is spared their import.
"""
import importlib

from .stack import Layer, Stack, refractive_index
from .solver import OpticsResult, solve, solve_arrays
from .grid import check_wavelengths
from .spectra import (SPECTRA, am15g_irradiance, am15g_photon_flux, am15g_table, eqe, incident_power_mw_cm2,
                      irradiance, jsc, jsc_weights, photon_energy_ev, photon_flux, register_spectrum,
                      spectrum_table)

__all__ = [
    "Layer", "Stack", "refractive_index",
    "OpticsResult", "solve", "solve_arrays",
    "ProfileResult", "GenerationProfile", "absorption_profile", "generation_profile", "spectral_generation",
    "am15g_irradiance", "am15g_photon_flux", "am15g_table", "eqe", "jsc", "photon_energy_ev",
    "SPECTRA", "spectrum_table", "register_spectrum", "incident_power_mw_cm2", "irradiance", "photon_flux",
    "jsc_weights", "check_wavelengths",
]

_LAZY = {name: "profile" for name in ("ProfileResult", "GenerationProfile", "absorption_profile",
                                      "generation_profile", "spectral_generation")}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__():
    return sorted(set(globals()) | set(__all__))
