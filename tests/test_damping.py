"""ABO van der Waals widths (phdl.synth.damping) and the readers that use them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from phdl.synth.damping import (
    ABO_MIN,
    T_MATCH,
    gamma_abo,
    is_abo,
    log_gamma_vdw_from_abo,
)
from phdl.synth.readers_moog import read_moog_all


def test_mg_b_width_by_hand() -> None:
    # Mg I 5183.6 (VALD: 729.238): sigma = 729 a0^2 = 2.0414e-14 cm^2, alpha = 0.238; at 5,000 K
    # mu = 1 / (1/24.305 + 1/1.008) amu, vbar = 1.0459e6 cm/s; (4/pi)^0.119 = 1.0292,
    # Gamma(1.881) = 0.9558: 2 * 1.0292 * 0.9558 * 1e6 * 2.0414e-14 * 1.0459^0.762 = 4.155e-8
    assert gamma_abo(729.238, 24.305, 5000.0) == pytest.approx(4.155e-8, rel=2e-3)


@pytest.mark.parametrize("packed", [250.3, 729.238, 1500.401])
def test_temperature_exponent(packed: float) -> None:
    alpha = packed - math.floor(packed)
    ratio = gamma_abo(packed, 56.0, 8000.0) / gamma_abo(packed, 56.0, 4000.0)
    assert ratio == pytest.approx(2.0 ** ((1.0 - alpha) / 2.0), rel=1e-12)


@pytest.mark.parametrize("packed", [300.2, 729.238, 900.4])
def test_engine_scaling_matches_abo_near_photospheres(packed: float) -> None:
    g10 = 10.0 ** log_gamma_vdw_from_abo(packed, 24.305)  # the engine's gamma at 10^4 K
    for t in (4000.0, T_MATCH, 7000.0):
        engine = g10 * (t / 1.0e4) ** 0.3  # phdl.synth.lines' scaling
        tol = 1e-12 if t == T_MATCH else 0.035
        assert engine == pytest.approx(gamma_abo(packed, 24.305, t), rel=tol)


def test_is_abo_and_bad_input() -> None:
    assert is_abo(729.238) and is_abo(ABO_MIN)
    for not_abo in (2.5, 0.0, -7.5, 1e-31, float("nan")):
        assert not is_abo(not_abo)
    with pytest.raises(ValueError, match="ABO"):
        gamma_abo(2.5, 24.305, 5000.0)


def test_moog_reader_abo_and_unsold_factor(tmp_path: Path) -> None:
    path = tmp_path / "abo.moog"
    path.write_text(
        "ABO test\n"
        "  5183.604      12.0     2.717    -0.239   729.238\n"  # packed ABO
        "  5172.684      12.0     2.712    -0.450       2.5\n"  # a factor on Unsold's C6
        "  5167.322      12.0     2.709    -0.931    -7.300\n"  # log gamma
    )
    atoms, _ = read_moog_all(path)
    vdw = dict(zip(np.round(atoms.loggf, 3), atoms.log_gamma_vdw, strict=True))
    assert vdw[-0.239] == pytest.approx(log_gamma_vdw_from_abo(729.238, 24.305), abs=1e-3)
    assert vdw[-0.239] == pytest.approx(-7.29, abs=0.01)
    assert np.isnan(vdw[-0.45])
    assert vdw[-0.931] == pytest.approx(-7.3)
