"""What fitting and error estimation need of a spectral model: :class:`SpectralModel`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class SpectralModel(Protocol):
    """A spectral model in physical label units (K, dex, km/s).

    - ``wavelength``: (n_pix,) vacuum Å, the pixels :meth:`predict` returns;
    - ``label_names``: the label names in column order (:data:`phdl.labels.LABELS`);
    - ``label_min`` / ``label_max``: (n_lab,) physical, the training set's minimum and maximum
      of each label, p_min and p_max of Eq. 25 (:func:`phdl.labels.scale`);
    - ``predict(labels)``: labels (n, n_lab) -> normalized flux (n, n_pix);
    - ``jacobian(labels)``: labels (n, n_lab) -> ∂flux/∂label (n, n_lab, n_pix) per physical unit.

    :class:`phdl.emulator.Emulator` and :class:`phdl.fit.ToyModel` are spectral models;
    ``isinstance(obj, SpectralModel)`` checks that the members exist (not their signatures).
    """

    wavelength: np.ndarray
    label_names: Sequence[str]
    label_min: np.ndarray
    label_max: np.ndarray

    def predict(self, labels: np.ndarray) -> np.ndarray:
        """Normalized flux (n, n_pix) for physical labels (n, n_lab)."""
        ...

    def jacobian(self, labels: np.ndarray) -> np.ndarray:
        """∂flux/∂label (n, n_lab, n_pix) per physical unit for physical labels (n, n_lab)."""
        ...
