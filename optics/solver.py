"""R, T and per-layer absorption of stacks: input checks, polarisation averaging
and the choice of engine ("native" vectorised, or "tmm" for the reference
package run wavelength by wavelength).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .incoherent import IncoherentSolution, absorption_terms, incoherent_solve
from .grid import check_wavelengths
from .stack import Stack, check_index, refractive_index

POLARIZATIONS = ("s", "p", "unpolarized")
ENGINES = ("native", "tmm")
#: stack x wavelength points solved per block in batched calls
CHUNK = 16384


@dataclass(frozen=True)
class OpticsResult:
    """Reflectance, transmittance and absorptance of a stack or batch of stacks.

    Attributes
    ----------
    wavelengths_nm : ndarray, shape [W]
        Vacuum wavelengths, nm.
    R, T : ndarray, shape [W] for one stack, [B, W] for a batch
        Reflected and transmitted power fractions, 0..1.
    A : ndarray, shape [L, W] (or [B, L, W])
        Fraction of the incident power absorbed in each layer of the stack, in stack
        order, 0..1; the semi-infinite media are excluded, so R + T + A.sum(-2) = 1 for
        a lossless incident medium.
    labels : tuple of str, length L
        Layer labels.
    angle_deg : float
        Angle of incidence, degrees.
    polarization : str
        "s", "p" or "unpolarized".
    engine : str
        "native" or "tmm".
    profile_terms : dict or None
        {layer: (alpha_nm, kr_nm, c_f, c_b, c_o)} for the layers asked for with
        ``solve_arrays(profile_layers=...)``: the closed-form absorption profile
        (``optics.incoherent.absorption_terms``), arrays [B, W]; None otherwise.
    """

    wavelengths_nm: np.ndarray
    R: np.ndarray
    T: np.ndarray
    A: np.ndarray
    labels: tuple[str, ...]
    angle_deg: float
    polarization: str
    engine: str
    profile_terms: dict | None = None

    def to_frame(self):
        """One stack's result as a pandas DataFrame.

        Returns
        -------
        pandas.DataFrame
            One row per wavelength: ``wavelength_nm``, ``R``, ``T`` and one column
            ``"A[i] label"`` per layer (fractions). ValueError for a batch.
        """
        import pandas as pd

        if self.R.ndim != 1:
            raise ValueError("to_frame() is for a single stack; index the batch first")
        cols = {"wavelength_nm": self.wavelengths_nm, "R": self.R, "T": self.T}
        for i, label in enumerate(self.labels):
            cols[f"A[{i}] {label}"] = self.A[i]
        return pd.DataFrame(cols)


def check_angle(angle_deg: float) -> float:
    """The angle of incidence as a float in [0, 90) degrees.

    Parameters
    ----------
    angle_deg : float
        One real angle, degrees; a complex or non-scalar angle is refused, not truncated.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Outside [0, 90), not finite, complex or not a scalar.
    """
    if np.iscomplexobj(angle_deg) or np.ndim(angle_deg) != 0:
        raise ValueError(f"angle_deg must be one real angle in [0, 90) degrees, got {angle_deg!r}")
    try:
        angle = float(angle_deg)
    except (TypeError, ValueError):
        raise ValueError(f"angle_deg must be one real angle in [0, 90) degrees, got {angle_deg!r}") from None
    if not np.isfinite(angle) or angle < 0 or angle >= 90:
        raise ValueError(f"angle_deg must be in [0, 90) degrees, got {angle_deg}")
    return angle


def check_thicknesses(d: np.ndarray, labels: Sequence[str]) -> None:
    """Raise ValueError naming the layer for a thickness no solver can take.

    Refused: negative, NaN or infinite thicknesses, and positive ones below 0.01 nm
    (a grid in metres or micrometres, far below one atomic layer). 0 is allowed.

    Parameters
    ----------
    d : ndarray, shape [L] or [B, L]
        Thicknesses, nm.
    labels : sequence of str, length L
        Layer labels for the message.
    """
    bad = ~np.isfinite(d) | (d < 0)
    if np.any(bad):
        idx = np.argwhere(bad)[0]
        layer = int(idx[-1])
        value = d[tuple(idx)]
        where = f"layer {layer} ({labels[layer]!r})" if layer < len(labels) else f"layer {layer}"
        raise ValueError(f"{where}: thickness must be finite and >= 0 nm, got {value}")
    tiny = (d > 0) & (d < 1e-2)
    if np.any(tiny):
        idx = np.argwhere(tiny)[0]
        layer = int(idx[-1])
        raise ValueError(
            f"layer {layer} ({labels[layer]!r}): thickness {d[tuple(idx)]:g} nm is far below one atomic "
            "layer; thicknesses are in nm (did you pass metres or micrometres?)"
        )


def check_incident_medium(n0, angle: float) -> None:
    """Refuse oblique incidence from an absorbing incident medium.

    A plane wave at an angle is not defined in an absorbing medium (its amplitude would
    vary along the interface), so ValueError for angle > 0 with any Im(n0) > 0.

    Parameters
    ----------
    n0 : complex array_like, any shape
        Index of the incident medium.
    angle : float
        Angle of incidence, degrees.
    """
    if angle > 0 and np.any(np.asarray(n0).imag > 0):
        raise ValueError(
            "incident medium absorbs (k > 0): oblique incidence from an absorbing medium is not "
            "defined for a plane wave; use a lossless incident medium (e.g. air or glass with k = 0)"
        )


def full_media(n_layers, d, coherent, n0, nf, angle: float):
    """Media arrays with the semi-infinite media added, as the solvers take them.

    Parameters
    ----------
    n_layers : complex ndarray, shape [B, L, W]
        Layer indices.
    d : ndarray, shape [B, L]
        Layer thicknesses, nm.
    coherent : array_like of bool, shape [L]
    n0, nf : complex ndarray, shape [B, W]
        Incident and exit media.
    angle : float
        Angle of incidence, degrees (oblique incidence from an absorbing n0 is refused).

    Returns
    -------
    n : complex ndarray, shape [L+2, B, W]
        Media on the leading axis (layer-first layout of ``optics.tmm``).
    d : ndarray, shape [L+2, B]
        Thicknesses, nm, 0 for the semi-infinite media.
    coherent : ndarray of bool, shape [L+2]
    xi : ndarray, shape [B, W]
        n0 sin(theta0), the conserved in-plane wavevector.
    cos0 : complex ndarray, shape [B, W]
        cos(theta0).
    """
    check_incident_medium(n0, angle)
    n_batch = n_layers.shape[0]
    n_all = np.concatenate([n0[None], np.moveaxis(n_layers, 1, 0), nf[None]], axis=0)
    d_all = np.concatenate([np.zeros((1, n_batch)), d.T, np.zeros((1, n_batch))], axis=0)
    coh_all = np.concatenate([[False], np.asarray(coherent, dtype=bool), [False]])
    theta = np.deg2rad(angle)
    xi = n0.real * np.sin(theta)
    cos0 = np.full(n0.shape, np.cos(theta), dtype=complex)
    return n_all, d_all, coh_all, xi, cos0


def solved_polarizations(angle: float, polarization: str) -> tuple[str, ...]:
    """Polarisations to solve and average.

    s alone at normal incidence, where s and p give the same R, T and A.

    Parameters
    ----------
    angle : float
        Angle of incidence, degrees.
    polarization : {"s", "p", "unpolarized"}

    Returns
    -------
    tuple of str
    """
    if angle == 0:
        return ("s",)
    return ("s", "p") if polarization == "unpolarized" else (polarization,)


def solve_arrays(n_layers, thicknesses_nm, coherent, wavelengths_nm, n_incident=1.0, n_exit=1.0,
                 angle_deg: float = 0.0, polarization: str = "unpolarized",
                 labels: Sequence[str] | None = None, validate: bool = True,
                 profile_layers: Sequence[int] = ()) -> OpticsResult:
    """Solve stacks given as arrays: the fast path for sweeps and optimisers.

    Parameters
    ----------
    n_layers : complex array_like, shape [L, W] (one stack) or [B, L, W] (batch)
        n + ik of each layer at each wavelength, k >= 0, n > 0.
    thicknesses_nm : array_like, shape [L] or [B, L]
        Layer thicknesses, nm: finite, >= 0, and 0 or >= 0.01 nm.
    coherent : sequence of bool, length L
        True for thin films, False for thick (incoherent) layers; the same for the
        whole batch.
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm.
    n_incident, n_exit : complex scalar or array_like, shape [W] or [B, W], default 1.0
        Indices of the semi-infinite media; the incident one must be lossless for
        angle_deg > 0.
    angle_deg : float, default 0.0
        Angle of incidence in the incident medium, degrees, [0, 90).
    polarization : {"s", "p", "unpolarized"}, default "unpolarized"
        "unpolarized" is the mean of s and p.
    labels : sequence of str, length L, optional
        Layer names for error messages and ``OpticsResult.labels``.
    validate : bool, default True
        Check the wavelengths and every index for NaN, n <= 0 and k < 0 (skip only
        when they come from ``optics.solve``, which has checked them).
    profile_layers : sequence of int, default ()
        Coherent layers whose absorption profile is wanted in closed form
        (``OpticsResult.profile_terms``, polarisation mean of the coefficients; used for
        carrier collection by ``tandem.collection``).

    Returns
    -------
    OpticsResult
        R, T [W] and A [L, W] for one stack; [B, W] and [B, L, W] for a batch.

    Raises
    ------
    ValueError
        One line naming the argument, layer or medium at fault.

    References
    ----------
    S. J. Byrnes, "Multilayer optical calculations", arXiv:1603.02720 (2016); see
    ``optics.tmm`` and ``optics.incoherent`` for the numerics.
    """
    wl = check_wavelengths(wavelengths_nm) if validate else np.asarray(wavelengths_nm, dtype=float)
    angle = check_angle(angle_deg)
    if polarization not in POLARIZATIONS:
        raise ValueError(f"polarization must be one of {POLARIZATIONS}, got {polarization!r}")
    n_layers = np.asarray(n_layers, dtype=complex)
    single = n_layers.ndim == 2
    if single:
        n_layers = n_layers[None]
    if n_layers.ndim != 3 or n_layers.shape[-1] != wl.size:
        raise ValueError(
            f"n_layers must have shape [L, W] or [B, L, W] with W = {wl.size} wavelengths, "
            f"got {n_layers.shape}"
        )
    n_batch, n_lay, n_wl = n_layers.shape
    labels = tuple(labels) if labels is not None else tuple(f"layer {i}" for i in range(n_lay))
    d = np.asarray(thicknesses_nm, dtype=float)
    if d.ndim == 1:
        d = np.broadcast_to(d, (n_batch, d.size))
    if d.shape != (n_batch, n_lay):
        raise ValueError(f"thicknesses_nm must have shape [{n_lay}] or [{n_batch}, {n_lay}], got {d.shape}")
    check_thicknesses(d, labels)
    coherent = np.asarray(coherent, dtype=bool)
    if coherent.shape != (n_lay,):
        raise ValueError(f"coherent must have one flag per layer ({n_lay}), got {coherent.shape}")
    if validate:
        for i in range(n_lay):
            check_index(n_layers[:, i], wl, f"layer {i} ({labels[i]!r})")

    def medium(value, name):
        arr = np.broadcast_to(np.asarray(value, dtype=complex), (n_batch, n_wl))
        if validate:
            check_index(arr, wl, f"{name} medium")
        return arr

    n0 = medium(n_incident, "incident")
    nf = medium(n_exit, "exit")
    n_all, d_all, coh_all, xi, cos0 = full_media(n_layers, d, coherent, n0, nf, angle)
    pols = solved_polarizations(angle, polarization)
    profile_layers = tuple(int(i) for i in profile_layers)
    for i in profile_layers:
        if not (0 <= i < n_lay and coherent[i]):
            raise ValueError(f"profile_layers: layer {i} is not a coherent layer of the stack")
    # blocks of ~CHUNK stack-wavelength points keep the temporaries in cache
    step = max(1, CHUNK // n_wl)
    if len(pols) == 1 and step >= n_batch:  # one polarisation, one block: the solution as it is
        sol = incoherent_solve(pols[0], n_all, d_all, coh_all, wl, xi, cos0)
        R, T, A = sol.R, sol.T, np.moveaxis(sol.A, 0, 1)
        terms = {i: list(absorption_terms(sol, i + 1)) for i in profile_layers}
        if single:
            R, T, A = R[0], T[0], A[0]
            terms = {i: [x[0] for x in acc] for i, acc in terms.items()}
        return OpticsResult(wl, R, T, A, labels, angle, polarization, "native",
                            profile_terms={i: tuple(acc) for i, acc in terms.items()} or None)
    R = np.zeros((n_batch, n_wl))
    T = np.zeros((n_batch, n_wl))
    A = np.zeros((n_lay, n_batch, n_wl))
    terms = {i: [np.zeros((n_batch, n_wl)), np.zeros((n_batch, n_wl)), np.zeros((n_batch, n_wl)),
                 np.zeros((n_batch, n_wl)), np.zeros((n_batch, n_wl), dtype=complex)] for i in profile_layers}
    for lo in range(0, n_batch, step):
        sl = slice(lo, lo + step)
        for p in pols:
            sol: IncoherentSolution = incoherent_solve(
                p, n_all[:, sl], d_all[:, sl], coh_all, wl, xi[sl], cos0[sl])
            R[sl] += sol.R / len(pols)
            T[sl] += sol.T / len(pols)
            A[:, sl] += sol.A / len(pols)
            for i, acc in terms.items():
                alpha, kr, cf, cb, co = absorption_terms(sol, i + 1)
                acc[0][sl], acc[1][sl] = alpha, kr  # the same for both polarisations
                acc[2][sl] += cf / len(pols)
                acc[3][sl] += cb / len(pols)
                acc[4][sl] += co / len(pols)
    A = np.moveaxis(A, 0, 1)
    if single:
        R, T, A = R[0], T[0], A[0]
        terms = {i: [x[0] for x in acc] for i, acc in terms.items()}
    return OpticsResult(wl, R, T, A, labels, angle, polarization, "native",
                        profile_terms={i: tuple(acc) for i, acc in terms.items()} or None)


def _as_stacks(stack_or_stacks) -> tuple[list[Stack], bool]:
    if isinstance(stack_or_stacks, Stack):
        return [stack_or_stacks], True
    stacks = list(stack_or_stacks)
    if not stacks or not all(isinstance(s, Stack) for s in stacks):
        raise TypeError("solve() takes an optics.Stack or a sequence of optics.Stack")
    first = stacks[0]
    for b, s in enumerate(stacks[1:], start=1):
        if len(s.layers) != len(first.layers) or s.coherent != first.coherent:
            raise ValueError(
                f"stack {b} has a different layer count or coherence pattern than stack 0; "
                "a batch must share both"
            )
    return stacks, False


def stack_arrays(stacks: Sequence[Stack], wl: np.ndarray):
    """Evaluate every material of a batch of stacks on one wavelength grid.

    A material shared by several layers or stacks is evaluated once.

    Parameters
    ----------
    stacks : sequence of Stack, length B
        Stacks with the same layer count L.
    wl : ndarray, shape [W]
        Vacuum wavelengths, nm (already validated).

    Returns
    -------
    n : complex ndarray, shape [B, L, W]
    n0, nf : complex ndarray, shape [B, W]
        Incident and exit media.
    d : ndarray, shape [B, L]
        Thicknesses, nm.
    """
    cache: dict[int, np.ndarray] = {}

    def index_of(material, where):
        key = id(material)
        if key not in cache:
            cache[key] = refractive_index(material, wl, where)
        return cache[key]

    n = np.empty((len(stacks), len(stacks[0].layers), wl.size), dtype=complex)
    n0 = np.empty((len(stacks), wl.size), dtype=complex)
    nf = np.empty_like(n0)
    for b, s in enumerate(stacks):
        n0[b] = index_of(s.incident, "incident medium")
        nf[b] = index_of(s.exit, "exit medium")
        for i, layer in enumerate(s.layers):
            n[b, i] = index_of(layer.material, f"layer {i} ({layer.label!r})")
    d = np.array([s.thicknesses_nm for s in stacks], dtype=float).reshape(len(stacks), -1)
    return n, n0, nf, d


def solve(stack, wavelengths_nm, angle_deg: float = 0.0, polarization: str = "unpolarized",
          engine: str = "native") -> OpticsResult:
    """Reflectance, transmittance and absorptance per layer of a stack.

    Parameters
    ----------
    stack : optics.Stack or sequence of Stack
        One stack, or B stacks with the same layer count and coherence pattern
        (thicknesses and materials may differ).
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm (> 0; a grid in micrometres or metres is refused).
    angle_deg : float, default 0.0
        Angle of incidence in the incident medium, degrees, [0, 90).
    polarization : {"s", "p", "unpolarized"}, default "unpolarized"
        "unpolarized" is the mean of s and p.
    engine : {"native", "tmm"}, default "native"
        "native": vectorised over stacks and wavelengths; "tmm": the ``tmm``
        package's coh_tmm / inc_tmm, one wavelength at a time (a cross-check; needs
        the optional ``tmm`` package).

    Returns
    -------
    OpticsResult
        R, T [W] and A [L, W] for one stack; [B, W] and [B, L, W] for a batch of B
        stacks. Fractions of the incident power.

    Raises
    ------
    ValueError
        One line naming the layer, medium or argument at fault (index with k < 0,
        thickness in the wrong unit, angle outside [0, 90), ...).

    References
    ----------
    S. J. Byrnes, "Multilayer optical calculations", arXiv:1603.02720 (2016).

    Examples
    --------
    >>> from optics import Layer, Stack, solve
    >>> res = solve(Stack([Layer(2.0 + 0.05j, 300)], incident=1.0, exit=1.5), [500, 600])
    >>> bool(abs(res.R + res.T + res.A.sum(0) - 1).max() < 1e-12)
    True
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    wl = check_wavelengths(wavelengths_nm)
    stacks, single = _as_stacks(stack)
    labels = stacks[0].labels
    n, n0, nf, d = stack_arrays(stacks, wl)
    if engine == "tmm":
        from .reference import tmm_solve_arrays

        check_thicknesses(d, labels)  # solve_arrays checks them on the native path

        result = tmm_solve_arrays(n, d, stacks[0].coherent, wl, n0, nf, angle_deg, polarization, labels)
    else:
        # stack_arrays has validated every index through refractive_index
        result = solve_arrays(n, d, stacks[0].coherent, wl, n0, nf, angle_deg, polarization, labels,
                              validate=False)
    if single:
        result = OpticsResult(result.wavelengths_nm, result.R[0], result.T[0], result.A[0], labels,
                              result.angle_deg, result.polarization, result.engine)
    return result
