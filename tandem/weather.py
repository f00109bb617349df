"""Sites, typical-meteorological-year (TMY) weather, module mounting, plane-of-array light
and cell temperature: the outdoor conditions of an energy-yield calculation.

Weather comes from the TMY files that pvlib ships (offline defaults) or from any TMY3,
TMY2 or EPW file, read with ``pvlib.iotools``:

==============  ==============================================  ======
site name       file (pvlib ``data`` directory)                 format
==============  ==============================================  ======
``greensboro``  723170TYA.CSV, Greensboro NC (36.1 N)           TMY3
``sand_point``  703165TY.csv, Sand Point AK (55.3 N)            TMY3
``miami``       12839.tm2, Miami FL (25.8 N)                    TMY2
==============  ==============================================  ======

Every hourly value is an average over the hour, so the sun is placed at the middle of
the hour (TMY3 time stamps end the hour; pvlib indexes TMY2 and EPW hours by their
start). Atmospheric inputs of the spectral model (``tandem.outdoor_spectra``) are taken
from the file where it gives them and replaced by documented defaults where it does not
(the names of the defaulted quantities are kept in ``Weather.defaulted``):

* surface pressure: the file, else ``pvlib.atmosphere.alt2pres`` of the site altitude;
* precipitable water: the file, else ``pvlib.atmosphere.gueymard94_pw`` from air
  temperature and relative humidity, else 1.42 cm (SPECTRL2's reference atmosphere);
* aerosol optical depth at 500 nm: the file's broadband AOD, taken as the AOD at 700 nm
  [Molineaux, Ineichen & O'Neill, Sol. Energy 63, 317 (1998)] and moved to 500 nm with
  the Angstrom exponent 1.14 (``pvlib.atmosphere.angstrom_aod_at_lambda``), else 0.084
  (the AOD at 500 nm of the ASTM G173 reference atmosphere);
* ozone: 0.31 atm-cm (no TMY file gives it);
* ground albedo: the file, else 0.25 (pvlib's default).

Mounting: fixed tilt and azimuth (default tilt = |latitude|, facing the equator),
vertical (tilt 90 degrees, e.g. a window) or horizontal single-axis tracking
(``pvlib.tracking.singleaxis``). Plane-of-array light from ``pvlib.irradiance``: the beam
on the plane plus, for the Perez model, its circumsolar part (which arrives from the
sun's direction) as the direct component; isotropic sky, horizon band and ground
reflection as the diffuse component. Cell temperature from the Faiman model
(``pvlib.temperature.faiman``: u0 = 25 W m^-2 K^-1, u1 = 6.84 W m^-2 K^-1 (m/s)^-1;
Faiman, Prog. Photovolt. 16, 307 (2008)) with the hourly air temperature and wind.

Bad input gets one line naming the site, file, key or column.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .vocabulary import MOUNTINGS

__all__ = ["SITES", "Weather", "Mounting", "PlaneOfArray", "site_names", "load_site", "read_weather",
           "get_weather", "plane_of_array", "MOUNTINGS", "TRANSPOSITIONS"]

#: Built-in sites: name -> (file in pvlib's data directory, format, description).
SITES: dict[str, tuple[str, str, str]] = {
    "greensboro": ("723170TYA.CSV", "tmy3", "Greensboro NC, USA (TMY3, humid subtropical)"),
    "sand_point": ("703165TY.csv", "tmy3", "Sand Point AK, USA (TMY3, subarctic maritime)"),
    "miami": ("12839.tm2", "tmy2", "Miami FL, USA (TMY2, tropical)"),
}
TRANSPOSITIONS = ("perez", "isotropic", "haydavies")

#: Defaults where the weather file is silent (see the module docstring).
DEFAULT_PRECIPITABLE_WATER_CM = 1.42
DEFAULT_AOD_500NM = 0.084
DEFAULT_ALBEDO = 0.25
DEFAULT_OZONE_ATM_CM = 0.31
_REQUIRED = ("ghi", "dni", "dhi", "temp_air", "wind_speed")


@dataclass(frozen=True, eq=False)
class Weather:
    """One year of hourly weather at a site (arrays of shape [H], H = hours in the file).

    times : pandas DatetimeIndex (time-zone aware) of the middle of each hour.
    ghi_w_m2, dni_w_m2, dhi_w_m2 : global horizontal, direct normal, diffuse horizontal, W/m^2.
    temp_air_c : air temperature, deg C; wind_speed_m_s : m/s.
    pressure_pa : surface pressure, Pa; precipitable_water_cm : cm; aod_500nm : aerosol optical
    depth at 500 nm; albedo : ground reflectance 0..1; ozone_atm_cm : ozone column, atm-cm.
    defaulted : the atmospheric quantities not given by the file (see module docstring).
    """

    name: str
    source: str
    latitude: float
    longitude: float
    altitude_m: float
    times: object
    ghi_w_m2: np.ndarray
    dni_w_m2: np.ndarray
    dhi_w_m2: np.ndarray
    temp_air_c: np.ndarray
    wind_speed_m_s: np.ndarray
    pressure_pa: np.ndarray
    precipitable_water_cm: np.ndarray
    aod_500nm: np.ndarray
    albedo: np.ndarray
    ozone_atm_cm: float = DEFAULT_OZONE_ATM_CM
    defaulted: tuple[str, ...] = ()

    @property
    def hours(self) -> int:
        return len(self.times)


@dataclass(frozen=True)
class Mounting:
    """How the module is mounted.

    kind : "fixed" (tilt and azimuth), "vertical" (tilt 90 deg, e.g. a window; azimuth
        default facing the equator) or "tracking" (horizontal single axis, ``axis_azimuth_deg``).
    tilt_deg : 0-90, from horizontal; None = |site latitude| (fixed).
    azimuth_deg : 0-360, clockwise from north (180 = south); None = facing the equator.
    axis_azimuth_deg, max_angle_deg, gcr, backtrack : single-axis tracker (pvlib.tracking.singleaxis).
    """

    kind: str = "fixed"
    tilt_deg: float | None = None
    azimuth_deg: float | None = None
    axis_azimuth_deg: float = 180.0
    max_angle_deg: float = 60.0
    gcr: float = 0.35
    backtrack: bool = True

    def __post_init__(self):
        if self.kind not in MOUNTINGS:
            raise ValueError(f"mounting: kind must be one of {MOUNTINGS}, got {self.kind!r}")
        if self.tilt_deg is not None:
            t = float(self.tilt_deg)
            if not (math.isfinite(t) and 0 <= t <= 90):
                raise ValueError(f"mounting: tilt_deg must lie in 0-90 degrees, got {self.tilt_deg}")
            if self.kind == "vertical" and t != 90:
                raise ValueError(f"mounting: a vertical mounting has tilt_deg 90, got {self.tilt_deg}")
            if self.kind == "tracking":
                raise ValueError("mounting: tilt_deg does not apply to single-axis tracking (the tracker sets it)")
        if self.azimuth_deg is not None:
            a = float(self.azimuth_deg)
            if not (math.isfinite(a) and 0 <= a <= 360):
                raise ValueError(f"mounting: azimuth_deg must lie in 0-360 degrees (180 = south), got {self.azimuth_deg}")
        if not (0 < self.max_angle_deg <= 90):
            raise ValueError(f"mounting: max_angle_deg must lie in (0, 90], got {self.max_angle_deg}")
        if not (0 < self.gcr < 1):
            raise ValueError(f"mounting: gcr (ground coverage ratio) must lie in (0, 1), got {self.gcr}")

    def fixed_angles(self, latitude: float) -> tuple[float, float]:
        """(tilt_deg, azimuth_deg) of a fixed or vertical plane at ``latitude`` (deg N)."""
        facing = 180.0 if latitude >= 0 else 0.0
        az = facing if self.azimuth_deg is None else float(self.azimuth_deg)
        if self.kind == "vertical":
            return 90.0, az
        tilt = abs(float(latitude)) if self.tilt_deg is None else float(self.tilt_deg)
        return tilt, az

    def describe(self, latitude: float) -> str:
        if self.kind == "tracking":
            return f"single-axis tracking (axis azimuth {self.axis_azimuth_deg:g} deg, +-{self.max_angle_deg:g} deg)"
        tilt, az = self.fixed_angles(latitude)
        return f"{self.kind}, tilt {tilt:g} deg, azimuth {az:g} deg"


@dataclass(frozen=True, eq=False)
class PlaneOfArray:
    """Hourly light on the module plane and cell temperature (arrays [H]).

    poa_direct_w_m2 : beam (+ circumsolar) on the plane, arriving at ``aoi_deg``, W/m^2.
    poa_diffuse_w_m2 : sky (isotropic + horizon) + ground-reflected diffuse on the plane, W/m^2.
    poa_global_w_m2 : their sum; aoi_deg : angle of incidence of the beam (0-180; > 90: behind).
    apparent_zenith_deg, azimuth_deg : sun position; surface_tilt_deg [H] (varies when tracking).
    airmass_relative : Kasten-Young relative air mass (NaN below the horizon).
    temp_cell_c : Faiman cell temperature, deg C.
    """

    weather: Weather
    mounting: Mounting
    transposition: str
    aoi_deg: np.ndarray
    apparent_zenith_deg: np.ndarray
    surface_tilt_deg: np.ndarray
    airmass_relative: np.ndarray
    poa_direct_w_m2: np.ndarray
    poa_diffuse_w_m2: np.ndarray
    poa_global_w_m2: np.ndarray
    temp_cell_c: np.ndarray
    month: np.ndarray = field(repr=False, default=None)


# --------------------------------------------------------------------------------------------
# Reading weather files
# --------------------------------------------------------------------------------------------
def site_names() -> tuple[str, ...]:
    return tuple(SITES)


def _pvlib_data_dir() -> Path:
    import pvlib

    return Path(os.path.dirname(pvlib.__file__)) / "data"


def load_site(name: str) -> Weather:
    """The built-in site ``name`` (see ``SITES``); ValueError naming the known sites."""
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in SITES:
        raise ValueError(f"unknown site {name!r}; known sites: {sorted(SITES)} (or give a TMY3/EPW weather file)")
    fname, fmt, _ = SITES[key]
    path = _pvlib_data_dir() / fname
    if not path.exists():
        raise ValueError(f"site {name!r}: pvlib's data file {path} is missing (reinstall pvlib)")
    return read_weather(path, fmt=fmt, name=key)


def get_weather(site: str | None = None, weather_file: str | os.PathLike | None = None) -> Weather:
    """A site by name or a weather file (exactly one of them; default site "greensboro")."""
    if site is not None and weather_file is not None:
        raise ValueError("give a site name or a weather file, not both")
    if weather_file is not None:
        return read_weather(weather_file)
    return load_site(site or "greensboro")


def _detect_format(path: Path) -> str:
    ext = path.suffix.lower()
    if ext == ".epw":
        return "epw"
    if ext == ".tm2":
        return "tmy2"
    if ext == ".csv":
        return "tmy3"
    raise ValueError(f"{path}: unknown weather file type {ext!r}; expected .csv (TMY3), .tm2 (TMY2) or .epw")


def _column(df, col: str, path, fmt: str) -> np.ndarray:
    if col not in df.columns:
        raise ValueError(f"{path}: column {col!r} missing from the {fmt.upper()} file")
    return df[col].to_numpy(dtype=float)


def read_weather(path, fmt: str | None = None, name: str | None = None) -> Weather:
    """Read a TMY3 (.csv), TMY2 (.tm2) or EPW (.epw) file with ``pvlib.iotools``.

    Raises a one-line ValueError naming the file (and the column) when the file is missing,
    unreadable or lacks one of the columns an energy-yield calculation needs.
    """
    import pandas as pd
    import pvlib

    path = Path(path)
    fmt = fmt or _detect_format(path)
    if not path.is_file():
        raise ValueError(f"{path}: weather file not found")
    try:
        if fmt == "tmy3":
            df, meta = pvlib.iotools.read_tmy3(str(path), coerce_year=1990, map_variables=True)
        elif fmt == "tmy2":
            df, meta = pvlib.iotools.read_tmy2(str(path))
        elif fmt == "epw":
            df, meta = pvlib.iotools.read_epw(str(path), coerce_year=1990)
        else:
            raise ValueError(f"unknown weather format {fmt!r}")
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot read as {fmt.upper()}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    except Exception as e:  # pvlib/pandas parse errors of many kinds: one line naming the file
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path}: cannot read as {fmt.upper()}: {type(e).__name__}: {msg}") from None
    if len(df) < 24:
        raise ValueError(f"{path}: only {len(df)} rows; a TMY file holds a year of hourly data")

    defaulted = []
    if fmt == "tmy2":
        cols = {"ghi": "GHI", "dni": "DNI", "dhi": "DHI", "temp_air": "DryBulb", "wind_speed": "Wspd"}
        get = {k: _column(df, c, path, fmt) for k, c in cols.items()}
        get["temp_air"] = get["temp_air"] / 10.0    # tenths of deg C
        get["wind_speed"] = get["wind_speed"] / 10.0  # tenths of m/s
        pressure = df["Pressure"].to_numpy(float) * 100.0 if "Pressure" in df else None  # mbar
        pw = df["Pwat"].to_numpy(float) / 10.0 if "Pwat" in df else None  # mm
        aod = df["AOD"].to_numpy(float) / 1000.0 if "AOD" in df else None  # thousandths
        rh = df["RHum"].to_numpy(float) if "RHum" in df else None
        albedo = None
        mid = df.index + pd.Timedelta(minutes=30)  # pvlib: index = start of the hour
    else:
        get = {k: _column(df, k, path, fmt) for k in _REQUIRED}
        rh = df["relative_humidity"].to_numpy(float) if "relative_humidity" in df else None
        albedo = df["albedo"].to_numpy(float) if "albedo" in df else None
        if fmt == "tmy3":
            pressure = df["pressure"].to_numpy(float) * 100.0 if "pressure" in df else None  # mbar
            pw = df["precipitable_water"].to_numpy(float) if "precipitable_water" in df else None  # cm
            aod = df["AOD (unitless)"].to_numpy(float) if "AOD (unitless)" in df else None
            mid = df.index - pd.Timedelta(minutes=30)  # time stamp ends the hour
        else:  # epw
            pressure = df["atmospheric_pressure"].to_numpy(float) if "atmospheric_pressure" in df else None  # Pa
            pw = df["precipitable_water"].to_numpy(float) / 10.0 if "precipitable_water" in df else None  # mm
            aod = df["aerosol_optical_depth"].to_numpy(float) if "aerosol_optical_depth" in df else None
            if aod is not None:
                aod = np.where(aod > 0.998, np.nan, aod)  # 0.999: missing
            mid = df.index + pd.Timedelta(minutes=30)  # pvlib: index = start of the hour
    for k in ("ghi", "dni", "dhi"):
        v = get[k]
        bad = ~np.isfinite(v) | (v < 0) | (v > 1500)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValueError(f"{path}: column {k!r} has an invalid value {v[i]!r} at row {i} (W/m^2, 0-1500)")
    if np.any(~np.isfinite(get["temp_air"])) or np.any(np.abs(get["temp_air"]) > 70):
        raise ValueError(f"{path}: column 'temp_air' has values outside -70..70 deg C")
    wind = np.clip(np.nan_to_num(get["wind_speed"], nan=1.0), 0.0, 60.0)

    try:
        lat, lon = float(meta["latitude"]), float(meta["longitude"])
        alt = float(meta.get("altitude", 0.0))
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path}: header gives no latitude/longitude") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"{path}: header latitude/longitude ({lat}, {lon}) out of range")

    h = len(df)

    def valid(x, lo, hi):
        return x is not None and np.mean((x > lo) & (x < hi)) > 0.9

    if valid(pressure, 3e4, 1.2e5):
        pressure = np.where((pressure > 3e4) & (pressure < 1.2e5), pressure, np.nanmedian(pressure))
    else:
        pressure = np.full(h, float(pvlib.atmosphere.alt2pres(alt)))
        defaulted.append("pressure")
    if valid(pw, 0.0, 15.0):
        pw = np.clip(np.where((pw > 0) & (pw < 15), pw, np.nanmedian(pw)), 0.05, 15.0)
    elif rh is not None and np.mean((rh > 0) & (rh <= 100)) > 0.9:
        pw = np.clip(np.asarray(pvlib.atmosphere.gueymard94_pw(get["temp_air"], np.clip(rh, 1, 100))), 0.05, 15.0)
        defaulted.append("precipitable_water (from temperature and humidity)")
    else:
        pw = np.full(h, DEFAULT_PRECIPITABLE_WATER_CM)
        defaulted.append("precipitable_water")
    if valid(aod, 0.0, 2.0):
        aod = np.where((aod > 0) & (aod < 2), aod, np.nanmedian(aod))
        aod = np.asarray(pvlib.atmosphere.angstrom_aod_at_lambda(aod, 700.0, 1.14, 500.0), dtype=float)
    else:
        aod = np.full(h, DEFAULT_AOD_500NM)
        defaulted.append("aerosol_optical_depth")
    if valid(albedo, 0.0, 1.0):
        albedo = np.where((albedo > 0) & (albedo < 1), albedo, np.nanmedian(albedo))
    else:
        albedo = np.full(h, DEFAULT_ALBEDO)
        defaulted.append("albedo")

    return Weather(
        name=name or path.stem, source=str(path), latitude=lat, longitude=lon, altitude_m=alt, times=mid,
        ghi_w_m2=get["ghi"], dni_w_m2=get["dni"], dhi_w_m2=get["dhi"], temp_air_c=get["temp_air"],
        wind_speed_m_s=wind, pressure_pa=pressure, precipitable_water_cm=pw, aod_500nm=aod, albedo=albedo,
        defaulted=tuple(defaulted),
    )


# --------------------------------------------------------------------------------------------
# Plane of array
# --------------------------------------------------------------------------------------------
def plane_of_array(weather: Weather, mounting: Mounting | None = None, transposition: str = "perez",
                   faiman_u0: float = 25.0, faiman_u1: float = 6.84) -> PlaneOfArray:
    """Hourly direct/diffuse light on the module plane, angle of incidence and cell temperature.

    Parameters
    ----------
    weather : Weather
    mounting : Mounting, default fixed at tilt = |latitude| facing the equator.
    transposition : "perez" (default; its circumsolar part counts as direct light),
        "haydavies" (likewise) or "isotropic" (``pvlib.irradiance.get_total_irradiance``).
    faiman_u0, faiman_u1 : Faiman heat-loss coefficients, W m^-2 K^-1 and W m^-2 K^-1 (m/s)^-1.
    """
    import pvlib

    mounting = mounting or Mounting()
    if transposition not in TRANSPOSITIONS:
        raise ValueError(f"transposition must be one of {TRANSPOSITIONS}, got {transposition!r}")
    loc = pvlib.location.Location(weather.latitude, weather.longitude, altitude=weather.altitude_m)
    sp = loc.get_solarposition(weather.times, pressure=weather.pressure_pa, temperature=weather.temp_air_c)
    zen = sp["apparent_zenith"].to_numpy(float)
    azi = sp["azimuth"].to_numpy(float)
    if mounting.kind == "tracking":
        tr = pvlib.tracking.singleaxis(sp["apparent_zenith"], sp["azimuth"], axis_tilt=0.0,
                                       axis_azimuth=mounting.axis_azimuth_deg, max_angle=mounting.max_angle_deg,
                                       backtrack=mounting.backtrack, gcr=mounting.gcr)
        # sun below the horizon: the tracker rests flat
        tilt = np.nan_to_num(tr["surface_tilt"].to_numpy(float), nan=0.0)
        saz = np.nan_to_num(tr["surface_azimuth"].to_numpy(float), nan=mounting.axis_azimuth_deg + 90.0)
    else:
        t, a = mounting.fixed_angles(weather.latitude)
        tilt, saz = np.full(weather.hours, t), np.full(weather.hours, a)
    dni_extra = np.asarray(pvlib.irradiance.get_extra_radiation(np.asarray(weather.times.day_of_year)), dtype=float)
    am = pvlib.atmosphere.get_relative_airmass(zen)
    am = np.asarray(am, dtype=float)
    aoi = np.asarray(pvlib.irradiance.aoi(tilt, saz, zen, azi), dtype=float)
    ghi, dni, dhi = weather.ghi_w_m2, weather.dni_w_m2, weather.dhi_w_m2
    sun_up = zen < 90
    beam = np.where(sun_up & (aoi < 90), dni * np.cos(np.radians(aoi)), 0.0)
    beam = np.maximum(beam, 0.0)
    if transposition == "perez":
        comp = pvlib.irradiance.perez(tilt, saz, dhi, dni, dni_extra, zen, azi, am, return_components=True)
        circ = np.nan_to_num(np.asarray(comp["poa_circumsolar"], dtype=float))
        iso = np.nan_to_num(np.asarray(comp["poa_isotropic"], dtype=float))
        hor = np.nan_to_num(np.asarray(comp["poa_horizon"], dtype=float))
        sky_diffuse_non_sun = iso + hor
    elif transposition == "haydavies":
        comp = pvlib.irradiance.haydavies(tilt, saz, dhi, dni, dni_extra, zen, azi, return_components=True)
        circ = np.nan_to_num(np.asarray(comp["poa_circumsolar"], dtype=float))
        sky_diffuse_non_sun = np.nan_to_num(np.asarray(comp["poa_isotropic"], dtype=float))
    else:
        circ = np.zeros(weather.hours)
        sky_diffuse_non_sun = np.nan_to_num(np.asarray(pvlib.irradiance.isotropic(tilt, dhi), dtype=float))
    ground = np.asarray(pvlib.irradiance.get_ground_diffuse(tilt, ghi, albedo=weather.albedo), dtype=float)
    direct = beam + np.maximum(circ, 0.0)
    diffuse = np.maximum(sky_diffuse_non_sun, 0.0) + np.maximum(ground, 0.0)
    poa = direct + diffuse
    temp_cell = np.asarray(pvlib.temperature.faiman(poa, weather.temp_air_c, weather.wind_speed_m_s,
                                                    u0=faiman_u0, u1=faiman_u1), dtype=float)
    month = np.asarray(weather.times.month, dtype=int)
    return PlaneOfArray(weather, mounting, transposition, aoi, zen, tilt, am, direct, diffuse, poa,
                        temp_cell, month)
