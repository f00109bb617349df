"""Binning of the hours of a year for the energy yield (``tandem.energy_yield``).

A subcell's (or a series pair's) maximum power per unit photocurrent changes slowly with the
photocurrent, the current ratio of a 2T pair and the cell temperature, so hours with light are
grouped into bins of those three features; the diodes are solved once per bin at the bin's mean
conditions and every hour gets its bin's power per unit photocurrent times its own photocurrent,
which makes the annual sum first-order exact in each bin. ``method="hourly"`` puts every hour in
its own bin (the reference the binned result is tested against: within 0.5 %).

Units: photocurrents in mA/cm^2, temperatures in deg C, power in mW/cm^2.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Bins", "make_bins", "hourly_power", "bin_index", "DLOG_J", "DRATIO", "DTEMP"]


def bin_index(*features) -> tuple[np.ndarray, int]:
    """Integer bin label per hour from already-quantised integer features."""
    key = np.zeros(np.asarray(features[0]).shape, dtype=np.int64)
    for f in features:
        f = np.asarray(f, dtype=np.int64)
        key = key * (2**20) + (f - f.min())
    _, inv = np.unique(key, return_inverse=True)
    inv = inv.reshape(-1)
    return inv, int(inv.max()) + 1 if inv.size else 0


#: Bin widths: photocurrent in steps of 0.4 in ln J (a factor 1.5), 2T current ratio top/(top +
#: bottom) in steps of 0.04, cell temperature in steps of 12 K. Each hour gets its bin's power per
#: photocurrent, so the annual sum is first-order exact in each bin (see the module docstring).
DLOG_J = 0.4
DRATIO = 0.04
DTEMP = 12.0
@dataclass(frozen=True, eq=False)
class Bins:
    """Hours with light grouped into bins: hour mask, bin of each lit hour [n_on], bin means."""

    on: np.ndarray
    inv: np.ndarray
    jph: tuple[np.ndarray, ...]   # mean photocurrent per bin, per subcell [nb]
    temp_c: np.ndarray            # [nb]
    scale: np.ndarray             # [nb] mean of the hourly scale (the photocurrent or their sum)
    hourly_scale: np.ndarray      # [n_on]
    ratio_v: tuple = ()           # per subcell: None or [nb, K] photocurrent-weighted mean Jph(V) / Jph(0)

    @property
    def n(self) -> int:
        return self.temp_c.size


def make_bins(currents: Sequence[np.ndarray], temp_c: np.ndarray, method: str, ratios=None) -> Bins:
    """Bins of one subcell (single, 4T) or of a series pair (2T, two currents). ``ratios``: per
    current None or [H, K] Jph(V) / Jph(0) of each hour (voltage-dependent collection)."""
    on = np.ones(temp_c.size, dtype=bool)
    for j in currents:
        on &= j > 1e-6
    cur = [j[on] for j in currents]
    t = temp_c[on]
    total = cur[0] if len(cur) == 1 else cur[0] + cur[1]
    if method == "hourly" or not total.size:
        inv, nb = np.arange(total.size), total.size
    else:
        feats = [np.floor(np.log(total) / DLOG_J), np.floor(t / DTEMP)]
        if len(cur) == 2:
            feats.append(np.floor(cur[0] / total / DRATIO))
        inv, nb = bin_index(*feats)
    cnt = np.maximum(np.bincount(inv, minlength=nb), 1)
    mean = lambda x: np.bincount(inv, x, nb) / cnt  # noqa: E731
    ratio_v = []
    for j, rv in zip(cur, ratios or [None] * len(cur)):
        if rv is None:
            ratio_v.append(None)
            continue
        jw = np.maximum(np.bincount(inv, j, nb), 1e-300)
        ratio_v.append(np.stack([np.bincount(inv, j * c, nb) / jw for c in rv[on].T], axis=1))
    return Bins(on, inv, tuple(mean(j) for j in cur), mean(t), mean(total), total, tuple(ratio_v))


def hourly_power(bins: Bins, eff: np.ndarray) -> np.ndarray:
    """Hourly power (mW/cm^2): each hour gets its bin's power per unit scale."""
    p = np.zeros(bins.on.size)
    if bins.inv.size:
        p[bins.on] = eff[bins.inv] * bins.hourly_scale
    return p
