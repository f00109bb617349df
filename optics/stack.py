"""Layers and stacks: the optical description of a thin-film device.

A material is anything that gives the complex refractive index n + ik
(k >= 0 is absorption) at wavelengths in nm:

* a number (``1.5``, ``2.0 + 0.1j``),
* an array of shape [n_wavelengths] matching the wavelengths solved for,
* a callable ``f(wavelengths_nm) -> complex array``, or
* an object with a method ``nk(wavelengths_nm) -> complex array``
  (as the materials of ``nkdata`` do).

``optics`` imports no material library: it only asks the material for n + ik.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


def _material_label(material: Any) -> str:
    name = getattr(material, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(material, (int, float, complex, np.number)):
        return f"n={complex(material):g}"
    return type(material).__name__


@dataclass(frozen=True)
class Layer:
    """One layer of a stack.

    Parameters
    ----------
    material : number, array, callable or object with ``nk(wavelengths_nm)``
        Complex refractive index n + ik, k >= 0.
    thickness_nm : float
        Physical thickness in nm, >= 0 and finite; a positive value below 0.01 nm is
        refused when solving (a thickness in metres or micrometres).
    coherent : bool
        True for thin films (interference kept); False for thick layers
        (glass, wafers, encapsulants) whose phase is averaged out.
    name : str, optional
        Label used in error messages and tables; defaults to the material's
        ``name`` attribute.
    """

    material: Any
    thickness_nm: float
    coherent: bool = True
    name: str | None = None

    @property
    def label(self) -> str:
        """``name``, else the material's ``name`` attribute, else a description of the material."""
        return self.name if self.name is not None else _material_label(self.material)


@dataclass(frozen=True)
class Stack:
    """A stack of layers between two semi-infinite media.

    Parameters
    ----------
    layers : sequence of Layer
        In the order light meets them, front (incident side) first; TypeError for
        anything but ``optics.Layer``.
    incident : material, default 1.0
        Semi-infinite medium light arrives from (a material as for ``Layer``); it
        must not absorb (k = 0) for oblique incidence.
    exit : material, default 1.0
        Semi-infinite medium behind the last layer.
    """

    layers: tuple[Layer, ...]
    incident: Any = 1.0
    exit: Any = 1.0

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is a {type(layer).__name__}, expected optics.Layer")

    @property
    def thicknesses_nm(self) -> np.ndarray:
        """Layer thicknesses, nm, shape [L] (a new array each call)."""
        return np.array([layer.thickness_nm for layer in self.layers], dtype=float)

    @property
    def coherent(self) -> tuple[bool, ...]:
        """Coherent flag of each layer, length L."""
        return tuple(bool(layer.coherent) for layer in self.layers)

    @property
    def labels(self) -> tuple[str, ...]:
        """Label of each layer, length L (see ``Layer.label``)."""
        return tuple(layer.label for layer in self.layers)

    def replace_thicknesses(self, thicknesses_nm: Sequence[float]) -> "Stack":
        """A copy of the stack with new layer thicknesses.

        Parameters
        ----------
        thicknesses_nm : sequence of float, length L
            One thickness per layer, nm (checked when the stack is solved).

        Returns
        -------
        Stack
        """
        if len(thicknesses_nm) != len(self.layers):
            raise ValueError(
                f"got {len(thicknesses_nm)} thicknesses for a stack of {len(self.layers)} layers"
            )
        layers = tuple(
            Layer(layer.material, float(d), layer.coherent, layer.name)
            for layer, d in zip(self.layers, thicknesses_nm)
        )
        return Stack(layers, self.incident, self.exit)


def refractive_index(material: Any, wavelengths_nm: np.ndarray, where: str = "material") -> np.ndarray:
    """Evaluate a material's complex index n + ik on ``wavelengths_nm``.

    Parameters
    ----------
    material : number, array, callable or object with ``nk(wavelengths_nm)``
        See the module docstring; an array must have shape [W].
    wavelengths_nm : array_like, shape [W]
        Vacuum wavelengths, nm.
    where : str
        Name used in the error messages (e.g. "layer 2 ('ITO')").

    Returns
    -------
    complex ndarray, shape [W]

    Raises
    ------
    ValueError
        Naming ``where``, for a shape mismatch, non-finite values, n <= 0, or k < 0
        (gain, or data in the n - ik convention).
    """
    wl = np.asarray(wavelengths_nm, dtype=float)
    if isinstance(material, (int, float, complex, np.number)):
        nk = np.full(wl.shape, complex(material))
    elif hasattr(material, "nk") and callable(material.nk):
        nk = np.asarray(material.nk(wl), dtype=complex)
    elif callable(material):
        nk = np.asarray(material(wl), dtype=complex)
    else:
        nk = np.asarray(material, dtype=complex)
    nk = np.broadcast_to(nk, wl.shape) if nk.ndim == 0 else nk
    if nk.shape != wl.shape:
        raise ValueError(
            f"{where}: n,k has shape {nk.shape} but {wl.size} wavelengths were asked for"
        )
    check_index(nk, wl, where)
    return nk


def check_index(nk: np.ndarray, wavelengths_nm: np.ndarray, where: str) -> None:
    """Raise ValueError naming ``where`` if n + ik is not finite, n <= 0, or k < 0.

    Parameters
    ----------
    nk : complex ndarray, any shape
        Complex indices.
    wavelengths_nm : array_like, broadcastable to ``nk``
        Their wavelengths, nm (quoted in the k < 0 message).
    where : str
        Layer or medium named in the message.
    """
    if not np.all(np.isfinite(nk)):
        raise ValueError(f"{where}: refractive index is NaN or infinite")
    bad_k = nk.imag < 0
    if np.any(bad_k):
        wl = np.broadcast_to(wavelengths_nm, nk.shape)[bad_k]
        raise ValueError(
            f"{where}: k < 0 at {wl.flat[0]:g} nm (k = {nk.imag[bad_k].flat[0]:g}). "
            "qdtandem uses the n + ik convention with k >= 0 for absorption; "
            "data in the n - ik convention must be conjugated, and gain media are not supported."
        )
    if np.any(nk.real <= 0):
        raise ValueError(f"{where}: real part n <= 0 is not supported")
