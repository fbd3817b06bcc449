"""The spectral emulators: the PhDLspec Transformer (Section 2.1.1) and a Payne-style MLP.

``load(path)`` gives an :class:`Emulator`, a :class:`SpectralModel` (``predict(labels)`` ->
flux (n, n_pix), ``jacobian(labels)`` -> ∂flux/∂label (n, 34, n_pix), labels (n, 34) in
physical units). Training is in :mod:`phdl.train`.
"""

from phdl.emulator.config import MLPConfig, TransformerConfig, config_for
from phdl.emulator.model import (
    CHECKPOINT_KEYS,
    Emulator,
    build_network,
    flux_and_directional,
    flux_and_jacobian,
    load,
    split_segments,
)
from phdl.emulator.networks import MLPNet, TransformerNet, encode_wavelength
from phdl.emulator.protocol import SpectralModel

__all__ = [
    "CHECKPOINT_KEYS",
    "Emulator",
    "MLPConfig",
    "MLPNet",
    "SpectralModel",
    "TransformerConfig",
    "TransformerNet",
    "build_network",
    "config_for",
    "encode_wavelength",
    "flux_and_directional",
    "flux_and_jacobian",
    "load",
    "split_segments",
]
