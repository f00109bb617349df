"""Operating points of subcells and of series tandems: maximum power point, short circuit, J-V.

The cells are :class:`tandem.electrical.DiodeArrays` (single diode with Rs, Rsh, Lambert-W
junction voltage, optional voltage-dependent photocurrent). A two-terminal tandem carries one
current through both subcells, so its voltage is the sum of the subcell voltages at that
current, optionally with luminescent coupling from the top to the bottom cell.

Conventions as in :mod:`tandem.electrical`: current density in mA/cm^2 (positive for
generation), voltage in V, power in mW/cm^2; arrays batched over designs ([B] or [B, N]).

References
----------
Jain & Kapoor, Sol. Energy Mater. Sol. Cells 81, 269 (2004) (Lambert-W diode).
Steiner et al., IEEE J. Photovolt. 3, 879 (2013) (luminescent coupling in series tandems).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from optics.spectra import incident_power_mw_cm2

from .electrical import DiodeArrays


def grid_max(f: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
              points: int = 33, rounds: int = 6):
    """Maximise a unimodal f on [lo, hi] for a batch (arrays [B]) by nested grids.

    Each round evaluates f on ``points`` points [B, N] in one vectorised call and
    keeps +-1 grid step around the best point (width / 16 per round with 33 points),
    so 6 rounds locate the maximum to ~1e-7 of the interval: few, large numpy calls
    instead of many small ones (what dominates the cost for small batches).
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    a, b = lo.copy(), hi.copy()
    u = np.linspace(0.0, 1.0, points)
    rows = np.arange(lo.size)
    for _ in range(rounds):
        x = a[:, None] + (b - a)[:, None] * u[None, :]
        y = f(x)
        i = np.argmax(y, axis=1)
        best_x, best_y = x[rows, i], y[rows, i]
        h = (b - a) / (points - 1)
        a, b = np.maximum(lo, best_x - h), np.minimum(hi, best_x + h)
    return best_x, best_y


def grid_zero(f: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
               points: int = 33, rounds: int = 4):
    """Root of a decreasing f on [lo, hi] (f(lo) >= 0 >= f(hi)) for a batch, by nested grids.

    Each round brackets the sign change on a [B, N] grid (width / 32 per round: ~1e-6 of
    the interval after 4 rounds); the root is then interpolated linearly inside the final
    bracket, whose error is second order in that width (~1e-12 of the interval for the
    short-circuit currents, which 8 rounds reproduce to 1e-10 relative).
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    a, b = lo.copy(), hi.copy()
    u = np.linspace(0.0, 1.0, points)
    rows = np.arange(lo.size)
    for _ in range(rounds):
        x = a[:, None] + (b - a)[:, None] * u[None, :]
        y = f(x)
        i = np.clip(np.sum(y > 0, axis=1) - 1, 0, points - 2)
        a, b = x[rows, i], x[rows, i + 1]
        ya, yb = y[rows, i], y[rows, i + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where((ya > 0) & (yb <= 0) & np.isfinite(ya - yb), ya / (ya - yb), 0.5)
    return a + np.clip(t, 0.0, 1.0) * (b - a)


@dataclass(frozen=True)
class MPPResult:
    """Operating points of a batch (arrays [B]): voltages V, currents mA/cm^2, power mW/cm^2."""

    voc_v: np.ndarray
    jsc_ma_cm2: np.ndarray
    vmpp_v: np.ndarray
    jmpp_ma_cm2: np.ndarray
    pmax_mw_cm2: np.ndarray

    @property
    def ff_pct(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            ff = self.pmax_mw_cm2 / (self.voc_v * self.jsc_ma_cm2) * 100
        return np.where((self.voc_v > 0) & (self.jsc_ma_cm2 > 0), ff, 0.0)

    @property
    def pce_pct(self) -> np.ndarray:
        return self.pmax_mw_cm2 / incident_power_mw_cm2() * 100

    @classmethod
    def from_search(cls, voc, jsc, j, p, ok) -> "MPPResult":
        """From a search's Voc, Jsc, J and P at the maximum [B]: zero power (and current, voltage)
        where ``ok`` is False (no photocurrent or no positive Voc), Voc and Jsc clipped at 0."""
        p = np.where(ok, np.maximum(p, 0.0), 0.0)
        j = np.where(ok, j, 0.0)
        v = np.where(ok & (j > 0), p / np.where(j > 0, j, 1.0), 0.0)
        return cls(np.maximum(voc, 0.0), np.maximum(jsc, 0.0), v, j, p)

    def rows(self, index) -> "MPPResult":
        """The operating points of the rows ``index`` (a slice or indices)."""
        return MPPResult(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


def short_circuit_current(cell: DiodeArrays) -> np.ndarray:
    """Terminal current at V = 0 of B subcells, mA/cm^2, shape [B] (below Jph with Rs and Rsh)."""
    hi = np.maximum(cell.jph_max, 0.0)
    return grid_zero(cell.voltage, np.zeros(cell.size), hi)


def single_mpp(cell: DiodeArrays) -> MPPResult:
    """Maximum power point, Voc and Jsc of each of B subcells on its own.

    Parameters
    ----------
    cell : DiodeArrays of B subcells

    Returns
    -------
    MPPResult
        Arrays [B]; zero power where the cell has no photocurrent or no positive Voc. The
        MPP is located by nested grids on the current to ~1e-7 of Jsc (``grid_max``).
    """
    voc = cell.voltage(np.zeros(cell.size))
    jsc = short_circuit_current(cell)
    j, p = grid_max(lambda jj: jj * cell.voltage(jj), np.zeros(cell.size), np.maximum(jsc, 0.0))
    return MPPResult.from_search(voc, jsc, j, p, (cell.jph > 0) & (voc > 0))


def series_operating_voltages(top: DiodeArrays, bottom: DiodeArrays, j, coupling=0.0):
    """Voltages (V) of the top and bottom subcells of 2T tandems at common current j (mA/cm^2).

    Parameters
    ----------
    top, bottom : DiodeArrays of B subcells
    j : array_like, shape [B] or [B, N]
        Terminal current density, mA/cm^2.
    coupling : float or array_like [B]
        Luminescent-coupling fraction, 0..1: that part of the top cell's radiative
        recombination current becomes bottom-cell photocurrent (Steiner et al., IEEE J.
        Photovolt. 3, 879 (2013)).

    Returns
    -------
    v_top, v_bottom : ndarray, shaped like ``j``
    """
    j = np.asarray(j, dtype=float)
    coupling = np.broadcast_to(np.asarray(coupling, dtype=float), (top.size,))
    both = None if np.any(coupling > 0) else stacked(top, bottom)
    if both is not None:  # both subcells in one vectorised solve
        vj = both.junction_voltage(np.concatenate([j, j]))
        n = top.size
        return vj[:n] - j * 1e-3 * top._p("rs", j), vj[n:] - j * 1e-3 * bottom._p("rs", j)
    vt_j = top.junction_voltage(j)
    v_top = vt_j - j * 1e-3 * top._p("rs", j)
    if np.any(coupling > 0):
        extra = coupling.reshape(coupling.shape + (1,) * (j.ndim - 1)) * np.maximum(top.radiative_current(vt_j), 0)
        v_bot = bottom.voltage(j, jph=bottom._p("jph", j) + extra)
    else:
        v_bot = bottom.voltage(j)
    return v_top, v_bot


def stacked(top: DiodeArrays, bottom: DiodeArrays) -> DiodeArrays | None:
    """``DiodeArrays.concat([top, bottom])``, built once per pair (cached on ``top``), so that the
    two subcells of a series tandem share each vectorised solve; None when a subcell has Auger
    recombination (its Newton loop runs until the slowest row converges, so rows solved together
    would not give the same last digits as rows solved apart)."""
    if top.size != bottom.size or np.any(top.auger_w_cm > 0) or np.any(bottom.auger_w_cm > 0):
        return None
    hit = top.__dict__.get("_stacked")
    if hit is None or hit[0] is not bottom:
        hit = (bottom, DiodeArrays.concat([top, bottom]))
        object.__setattr__(top, "_stacked", hit)
    return hit[1]


def series_voltage(top: DiodeArrays, bottom: DiodeArrays, j, coupling=0.0) -> np.ndarray:
    """Voltage (V) of two subcells in series at common current j (mA/cm^2), [B] or [B, N]."""
    v_top, v_bot = series_operating_voltages(top, bottom, j, coupling)
    return v_top + v_bot


def series_short_circuit_current(top: DiodeArrays, bottom: DiodeArrays, coupling=0.0) -> np.ndarray:
    """Short-circuit current (mA/cm^2, [B]) of B 2T tandems (``series_operating_voltages``)."""
    coupling = np.broadcast_to(np.asarray(coupling, dtype=float), (top.size,))
    hi = np.maximum(top.jph_max, bottom.jph_max + coupling * top.jph_max)
    return grid_zero(lambda jj: series_voltage(top, bottom, jj, coupling), np.zeros(top.size), hi)


def series_mpp(top: DiodeArrays, bottom: DiodeArrays, coupling=0.0) -> MPPResult:
    """Maximum power point of B 2-terminal series tandems: voltages add at a common current.

    Parameters
    ----------
    top, bottom : DiodeArrays of B subcells each
    coupling : float or array_like [B]
        Luminescent-coupling fraction, 0..1 (Steiner et al., IEEE J. Photovolt. 3, 879 (2013)).

    Returns
    -------
    MPPResult of the tandem, arrays [B].
    """
    coupling = np.broadcast_to(np.asarray(coupling, dtype=float), (top.size,))
    voc = series_voltage(top, bottom, np.zeros(top.size), coupling)
    jsc = series_short_circuit_current(top, bottom, coupling)
    j, p = grid_max(lambda jj: jj * series_voltage(top, bottom, jj, coupling),
                       np.zeros(top.size), np.maximum(jsc, 0.0))
    return MPPResult.from_search(voc, jsc, j, p, (voc > 0) & (jsc > 0))


def single_and_series_mpp(top: DiodeArrays, bottom: DiodeArrays) -> tuple[MPPResult, MPPResult] | None:
    """``single_mpp`` of the 2B subcells ``DiodeArrays.concat([top, bottom])`` and ``series_mpp`` of
    the B pairs without luminescent coupling, solved in lockstep: each round of the nested grids
    evaluates the subcells' and the pairs' grids in one vectorised junction-voltage solve, half
    the solves of the two searches apart (what costs most for a single design). Row by row the
    numbers are those of the two functions (the solves are elementwise, the grids row by row).

    Returns (subcell MPPs [2B], tandem MPPs [B]), or None where ``stacked`` gives None (Auger
    recombination): then solve them apart.
    """
    both = stacked(top, bottom)
    if both is None:
        return None
    b = top.size
    rs = both.rs[:, None]

    def voltages(x):
        """Terminal voltages at the currents x [3B, N]: of each subcell (rows 0..2B-1) at its own
        grid, of each pair (rows 2B..3B-1) in series."""
        n = x.shape[1]
        xs = x[2 * b:]
        vj = both.junction_voltage(np.concatenate([x[:2 * b], np.concatenate([xs, xs])], axis=1))
        v_cells = vj[:, :n] - x[:2 * b] * 1e-3 * rs
        v_pairs = (vj[:b, n:] - xs * 1e-3 * rs[:b]) + (vj[b:, n:] - xs * 1e-3 * rs[b:])
        return np.concatenate([v_cells, v_pairs])

    zeros = np.zeros(3 * b)
    v0 = both.voltage(np.zeros(2 * b))
    voc = np.concatenate([v0, v0[:b] + v0[b:]])
    hi = np.concatenate([np.maximum(both.jph_max, 0.0), np.maximum(top.jph_max, bottom.jph_max)])
    jsc = grid_zero(voltages, zeros, hi)
    j, p = grid_max(lambda jj: jj * voltages(jj), zeros, np.maximum(jsc, 0.0))
    # the conditions of single_mpp for the subcells, of series_mpp for the pairs
    ok = np.concatenate([both.jph > 0, jsc[2 * b:] > 0]) & (voc > 0)
    res = MPPResult.from_search(voc, jsc, j, p, ok)
    return res.rows(slice(0, 2 * b)), res.rows(slice(2 * b, None))


def jv_curve(cell: DiodeArrays, jsc_ma_cm2: np.ndarray, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """J-V curves of B subcells from short circuit to open circuit.

    Parameters
    ----------
    cell : DiodeArrays of B subcells
    jsc_ma_cm2 : array_like, shape [B]
        Short-circuit currents (the first point), mA/cm^2.
    points : int
        Points N per curve, equally spaced in current.

    Returns
    -------
    voltage_v, current_ma_cm2 : ndarray, shape [B, N]
        Voltage increasing from 0 (V), current decreasing to 0 (mA/cm^2).
    """
    frac = np.linspace(1.0, 0.0, points)
    j = np.maximum(jsc_ma_cm2, 0.0)[:, None] * frac[None, :]
    v = cell.voltage(j)
    v[:, 0] = 0.0  # short circuit by construction (removes bisection round-off)
    return v, j


def series_jv_curve(top: DiodeArrays, bottom: DiodeArrays, jsc_ma_cm2: np.ndarray, coupling=0.0,
                    points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """J-V curves of B 2T tandems, (voltage_v, current_ma_cm2) each [B, N], as ``jv_curve``.

    ``coupling`` [B] is the luminescent-coupling fraction, 0..1.
    """
    frac = np.linspace(1.0, 0.0, points)
    j = np.maximum(jsc_ma_cm2, 0.0)[:, None] * frac[None, :]
    v = series_voltage(top, bottom, j, coupling)
    # first point is short circuit by construction; without a shunt the limiting cell's
    # reverse branch is vertical there and the bisection lands on the step, so pin V = 0
    v[:, 0] = 0.0
    return v, j
