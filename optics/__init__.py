"""optics: vectorised transfer-matrix optics for thin-film solar cells.

Wavelengths and thicknesses in nm; complex index n + ik with k >= 0.
"""
from .stack import Layer, Stack, refractive_index
from .spectra import am15g_irradiance, am15g_photon_flux, am15g_table, eqe, jsc, photon_energy_ev

__all__ = [
    "Layer", "Stack", "refractive_index",
    "am15g_irradiance", "am15g_photon_flux", "am15g_table", "eqe", "jsc", "photon_energy_ev",
]
