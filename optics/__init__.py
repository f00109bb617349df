"""optics: vectorised transfer-matrix optics for thin-film solar cells.

Wavelengths and thicknesses in nm; complex index n + ik with k >= 0.

>>> from optics import Layer, Stack, solve, jsc
"""
from .stack import Layer, Stack, refractive_index
from .solver import OpticsResult, solve, solve_arrays
from .profile import GenerationProfile, ProfileResult, absorption_profile, generation_profile
from .spectra import am15g_irradiance, am15g_photon_flux, am15g_table, eqe, jsc, photon_energy_ev

__all__ = [
    "Layer", "Stack", "refractive_index",
    "OpticsResult", "solve", "solve_arrays",
    "ProfileResult", "GenerationProfile", "absorption_profile", "generation_profile",
    "am15g_irradiance", "am15g_photon_flux", "am15g_table", "eqe", "jsc", "photon_energy_ev",
]
