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
"""
from .stack import Layer, Stack, refractive_index
from .solver import OpticsResult, solve, solve_arrays
from .profile import GenerationProfile, ProfileResult, absorption_profile, generation_profile, spectral_generation
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
