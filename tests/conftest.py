"""Shared fixtures. The engine runs eagerly in tests (no torch.compile start-up cost)."""

from __future__ import annotations

import os

os.environ.setdefault("PHDL_COMPILE", "0")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def syn():
    """The default engine (built-in line list, default physics), shared by the tests."""
    from phdl.synth import Synthesizer

    return Synthesizer(compile=False)


@pytest.fixture(scope="session")
def solar_spectrum(syn):
    """(flux (3800,), gradients (34, 3800)) of a solar-like dwarf."""
    from phdl import labels

    flux, grads = syn(labels.solar()[None], with_gradients=True)
    return flux[0], grads[0]
