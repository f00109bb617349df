"""Hourly solar spectra on the module plane for energy-yield calculations.

``hourly_irradiance(plane)`` turns a year of plane-of-array light (``tandem.weather``) into
hourly spectral irradiance, split into the direct beam (arriving at the hour's angle of
incidence) and diffuse light (treated as isotropic by the optics):

* Spectral shapes from SPECTRL2 (``pvlib.spectrum.spectrl2``; Bird & Riordan, J. Clim.
  Appl. Meteorol. 25, 87 (1986)), 300-4000 nm, computed for every daylight hour with the
  hour's sun position, relative air mass, surface pressure, precipitable water, aerosol
  optical depth at 500 nm (Angstrom exponent 1.14), ozone and ground albedo (the file's
  values or the documented defaults of ``tandem.weather``).
* Scaled to the measured light: the direct spectrum is the SPECTRL2 direct-normal shape
  scaled to the plane-of-array direct irradiance (beam + circumsolar) of the TMY hour; the
  diffuse spectrum is scaled to the plane-of-array diffuse irradiance (sky + ground).
* Cloudy hours: SPECTRL2 is a clear-sky model. The sky's clearness is taken as the measured
  direct-normal irradiance over SPECTRL2's clear-sky one (0 overcast, 1 clear); that fraction
  of SPECTRL2's clear-sky diffuse irradiance (at most the measured diffuse) keeps the blue
  clear-sky diffuse shape (sky + ground on the plane); the rest of the measured diffuse light,
  scattered by clouds, is given the shape of the clear-sky global horizontal spectrum,
  because cloud droplets are much larger than the wavelength and scatter nearly
  independently of it. Overcast hours thus get a global-like, not a sky-blue, diffuse
  spectrum. EYcalc's "simple cloud model" likewise adjusts the clear-sky diffuse
  irradiance to the measured one [Schmager et al., Opt. Express 27, A507 (2019)]; finer
  cloud spectral effects (water-vapour absorption inside clouds, which makes overcast light
  somewhat bluer than clear global light; SEDES2 of Nann & Riordan, J. Appl. Meteorol. 30,
  447 (1991)) are not modelled.
* Hours with the sun at most 2 deg below the horizon but measured light (twilight in the
  hour average) use the spectral shapes at 88 deg zenith; their beam is zero.

Units: wavelength nm, spectral irradiance W m^-2 nm^-1, broadband W m^-2, temperature deg C.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .weather import PlaneOfArray

__all__ = ["HourlyIrradiance", "hourly_irradiance", "constant_irradiance"]


@dataclass(frozen=True, eq=False)
class HourlyIrradiance:
    """Hourly spectral light on the module plane: what ``tandem.energy_yield`` consumes.

    Only hours with light are kept (H of them).

    wavelengths_nm : [S] increasing, nm.
    direct : [H, S] direct (beam) spectral irradiance on the plane, W m^-2 nm^-1 (the cos of
        the angle of incidence included), arriving at ``aoi_deg``.
    diffuse : [H, S] isotropic diffuse spectral irradiance on the plane, W m^-2 nm^-1.
    aoi_deg : [H] angle of incidence of the beam, deg (0-90).
    poa_global_w_m2 : [H] broadband plane-of-array irradiance (direct + diffuse), W m^-2.
    temp_cell_c : [H] cell temperature, deg C.
    month : [H] 1-12; hours : [H] duration each value stands for, h.
    label : where the light comes from (site, mounting).
    """

    wavelengths_nm: np.ndarray
    direct: np.ndarray
    diffuse: np.ndarray
    aoi_deg: np.ndarray
    poa_global_w_m2: np.ndarray
    temp_cell_c: np.ndarray
    month: np.ndarray
    hours: np.ndarray
    label: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        wl = np.asarray(self.wavelengths_nm, dtype=float)
        if wl.ndim != 1 or wl.size < 2 or np.any(np.diff(wl) <= 0):
            raise ValueError("HourlyIrradiance.wavelengths_nm must be strictly increasing (nm)")
        h = np.asarray(self.aoi_deg).size
        for name in ("direct", "diffuse"):
            a = np.asarray(getattr(self, name), dtype=float)
            if a.shape != (h, wl.size):
                raise ValueError(f"HourlyIrradiance.{name} must have shape [hours, wavelengths] = {(h, wl.size)}, "
                                 f"got {a.shape}")
            if np.any(~np.isfinite(a)) or np.any(a < 0):
                raise ValueError(f"HourlyIrradiance.{name} must be finite and >= 0")
        for name in ("poa_global_w_m2", "temp_cell_c", "month", "hours"):
            if np.asarray(getattr(self, name)).shape != (h,):
                raise ValueError(f"HourlyIrradiance.{name} must have shape [{h}]")
        aoi = np.asarray(self.aoi_deg, dtype=float)
        if np.any(~np.isfinite(aoi)) or np.any((aoi < 0) | (aoi > 90)):
            raise ValueError("HourlyIrradiance.aoi_deg must lie in 0-90 deg")

    @property
    def n_hours(self) -> int:
        return int(np.asarray(self.aoi_deg).size)

    @property
    def incident_kwh_m2(self) -> float:
        """Broadband plane-of-array irradiation over the period, kWh/m^2."""
        return float(np.sum(self.poa_global_w_m2 * self.hours) / 1000.0)

    def monthly_incident_kwh_m2(self) -> np.ndarray:
        """[12] plane-of-array irradiation per calendar month, kWh/m^2."""
        return np.bincount(self.month - 1, self.poa_global_w_m2 * self.hours, minlength=12)[:12] / 1000.0


def hourly_irradiance(plane: PlaneOfArray, min_poa_w_m2: float = 1.0) -> HourlyIrradiance:
    """Hourly direct and diffuse spectra on the plane from SPECTRL2 (see module docstring).

    Parameters
    ----------
    plane : tandem.weather.PlaneOfArray
    min_poa_w_m2 : hours with less plane-of-array irradiance are dropped (W/m^2); they carry
        < 0.1 % of the annual light and no cell produces power there.
    """
    import pvlib

    w = plane.weather
    keep = np.flatnonzero((plane.poa_global_w_m2 >= min_poa_w_m2) & (plane.apparent_zenith_deg < 92.0))
    zen = np.minimum(plane.apparent_zenith_deg[keep], 88.0)
    aoi = np.clip(plane.aoi_deg[keep], 0.0, 90.0)
    am = np.asarray(pvlib.atmosphere.get_relative_airmass(zen), dtype=float)
    doy = np.asarray(w.times.day_of_year, dtype=int)[keep]
    out = pvlib.spectrum.spectrl2(
        apparent_zenith=zen, aoi=np.minimum(aoi, 89.9), surface_tilt=plane.surface_tilt_deg[keep],
        ground_albedo=w.albedo[keep], surface_pressure=w.pressure_pa[keep], relative_airmass=am,
        precipitable_water=w.precipitable_water_cm[keep], ozone=w.ozone_atm_cm,
        aerosol_turbidity_500nm=w.aod_500nm[keep], dayofyear=doy,
    )
    wl = np.asarray(out["wavelength"], dtype=float)
    cz = np.cos(np.radians(zen))[:, None]
    dni = np.asarray(out["dni"], dtype=float).T          # [H, S]
    dhi = np.asarray(out["dhi"], dtype=float).T
    sky = (np.asarray(out["poa_sky_diffuse"], dtype=float) + np.asarray(out["poa_ground_diffuse"], dtype=float)).T
    glob = dni * cz + dhi

    def shape(s):
        total = np.trapezoid(s, wl, axis=1)[:, None]
        return np.where(total > 0, s / np.where(total > 0, total, 1.0), 0.0)

    clear_dhi = np.trapezoid(dhi, wl, axis=1)
    clear_dni = np.trapezoid(dni, wl, axis=1)
    meas_dhi = w.dhi_w_m2[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        # how clear the sky is: the measured beam over the clear-sky beam (0 overcast, 1 clear)
        clearness = np.where(clear_dni > 0, np.clip(w.dni_w_m2[keep] / clear_dni, 0.0, 1.0), 0.0)
        clear_frac = np.where(meas_dhi > 0, np.clip(clearness * clear_dhi / meas_dhi, 0.0, 1.0), 1.0)
    diffuse_shape = clear_frac[:, None] * shape(sky) + (1 - clear_frac[:, None]) * shape(glob)
    direct = shape(dni) * plane.poa_direct_w_m2[keep][:, None]
    direct[plane.apparent_zenith_deg[keep] >= 90.0] = 0.0
    diffuse = diffuse_shape * plane.poa_diffuse_w_m2[keep][:, None]
    poa = np.trapezoid(direct + diffuse, wl, axis=1)
    label = f"{w.name}: {plane.mounting.describe(w.latitude)}"
    info = {"site": w.name, "weather_file": w.source, "latitude": w.latitude, "longitude": w.longitude,
            "mounting": plane.mounting.describe(w.latitude), "transposition": plane.transposition,
            "defaulted": list(w.defaulted), "cloud_fraction_of_diffuse_mean": float(np.mean(1 - clear_frac))}
    return HourlyIrradiance(
        wavelengths_nm=wl, direct=direct, diffuse=diffuse, aoi_deg=np.minimum(aoi, 90.0),
        poa_global_w_m2=poa, temp_cell_c=plane.temp_cell_c[keep], month=plane.month[keep],
        hours=np.ones(keep.size), label=label, info=info,
    )


def constant_irradiance(spectrum: str = "AM1.5G", irradiance_w_m2: float | None = None, temp_cell_c: float = 25.0,
                        aoi_deg: float = 0.0, hours: float = 1.0, diffuse_fraction: float = 0.0) -> HourlyIrradiance:
    """One 'hour' of a named reference spectrum as direct light (tests, STC references).

    ``spectrum``: a name known to ``tandem.electrical.spectrum_table`` ("AM1.5G", ...), on its
    native grid; ``irradiance_w_m2`` rescales it (None keeps the table's integral);
    ``diffuse_fraction`` of it is given as isotropic diffuse light instead.
    """
    from optics.spectra import spectrum_table

    wl, irr = spectrum_table(spectrum)
    wl = np.asarray(wl, dtype=float)
    irr = np.asarray(irr, dtype=float)
    total = float(np.trapezoid(irr, wl))
    if irradiance_w_m2 is not None:
        irr = irr * float(irradiance_w_m2) / total
        total = float(irradiance_w_m2)
    f = float(diffuse_fraction)
    if not (0 <= f <= 1):
        raise ValueError(f"diffuse_fraction must lie in [0, 1], got {diffuse_fraction}")
    return HourlyIrradiance(
        wavelengths_nm=wl, direct=(1 - f) * irr[None, :], diffuse=f * irr[None, :], aoi_deg=np.array([float(aoi_deg)]),
        poa_global_w_m2=np.array([total]), temp_cell_c=np.array([float(temp_cell_c)]), month=np.array([6]),
        hours=np.array([float(hours)]), label=f"{spectrum}, {total:.1f} W/m^2, {temp_cell_c:g} C",
    )
