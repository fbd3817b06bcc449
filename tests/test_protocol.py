"""phdl.emulator.SpectralModel: the models that fitting and error estimation accept satisfy it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from phdl.emulator import (
    Emulator,
    MLPConfig,
    SpectralModel,
    TransformerConfig,
    build_network,
    split_segments,
)
from phdl.fit import ToyModel
from phdl.labels import LABELS, LOWER, UPPER, solar

WL = np.geomspace(5000.0, 5100.0, 24)


def _emulator(config) -> Emulator:
    segments = split_segments(len(WL), 1)
    torch.manual_seed(0)
    nets = nn.ModuleList(build_network(config, b - a) for a, b in segments)
    return Emulator(config, nets, WL, segments, LABELS, LOWER, UPPER)


@pytest.mark.parametrize(
    "model",
    [
        ToyModel(n_pix=30),
        ToyModel(n_pix=30, linear=True),
        _emulator(TransformerConfig(d_model=8, n_blocks=1, n_heads=2, n_tokens=2, ffn_dim=8,
                                    head_dim=8)),
        _emulator(MLPConfig(hidden=8)),
    ],
    ids=["toy", "toy-linear", "transformer", "mlp"],
)  # fmt: skip
def test_models_are_spectral_models(model):
    assert isinstance(model, SpectralModel)
    n_pix, n_lab = len(model.wavelength), len(model.label_names)
    assert model.label_min.shape == model.label_max.shape == (n_lab,)
    labels = np.stack([solar(), solar(5000.0, 3.0)])
    assert model.predict(labels).shape == (2, n_pix)
    assert model.jacobian(labels).shape == (2, n_lab, n_pix)


def test_an_engine_is_not_a_spectral_model():
    from _fakes import FakeSynthesizer  # labels -> flux by calling it: no predict, no ranges

    assert not isinstance(FakeSynthesizer(), SpectralModel)
    assert not isinstance(object(), SpectralModel)
