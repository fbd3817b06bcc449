"""The sky's own physics: named perturbations of the engine's :class:`phdl.synth.Physics`.

The emulator learns the engine's default physics. The simulated sky's "observed" spectra are
synthesized by the same engine with a *different* physics, so a fit with the emulator makes
systematic errors that depend on Teff and logg, as fits of real stars with Kurucz models do.
The calibration chain (:mod:`phdl.calibrate`) has to find and remove them, and because the
truth is known every calibration step can be scored against it.

Presets (:data:`PRESETS`):

- ``"perturbed"`` (the default): log gf offsets for a handful of species (an atomic-data error
  that differs by element), a Gaussian log gf scatter and a few per cent of lines missing (an
  incomplete line list), stronger van der Waals and Stark damping (broader strong lines, which
  matter most in cool dwarfs), and a steeper temperature structure (``t_slope``: the upper
  layers cooler than the model's, which changes line depths most in cool stars). The sizes
  were chosen so that the uncalibrated abundance biases of the quick emulator look like the
  paper's Figure 16: trends of about 0.05-0.3 dex across 4500-7000 K that differ from element
  to element (measured in chapter 06).
- ``"sky-equals-model"``: the engine's default physics; the control, where a calibration
  should change almost nothing.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine (torch) loads only when a Physics is made
    from phdl.synth.physics import Physics

__all__ = ["DEFAULT_PRESET", "PRESETS", "sky_physics"]

#: The default preset of the simulated sky.
DEFAULT_PRESET = "perturbed"

_PERTURBED = {
    # log gf errors by species [dex]: an abundance fitted from these lines moves by about
    # minus the offset, more or less depending on how saturated the lines are (Teff, logg)
    "loggf_offsets": {
        "Mg I": 0.08,
        "Ca I": -0.06,
        "Ti I": 0.05,
        "Ni I": -0.07,
        "Mn I": 0.10,
        "Na I": -0.08,
        "Al I": 0.06,
        "Sr II": -0.10,
        "Ba II": 0.08,
        "Nd II": 0.10,
        "Cr I": 0.04,
        "Co I": -0.06,
    },
    "loggf_scatter": 0.03,  # dex, every line
    "missing_line_fraction": 0.02,  # of the atomic lines
    "seed": 2025,  # of the scatter and the missing lines
    "vdw_factor": 1.25,  # van der Waals widths × 1.25
    "stark_factor": 1.15,
    "t_slope": 0.005,  # 0.5 % cooler per dex of tau above tau = 1
}

#: Preset name -> the fields changed from the engine's default :class:`Physics` (read-only).
PRESETS: MappingProxyType = MappingProxyType(
    {"perturbed": MappingProxyType(_PERTURBED), "sky-equals-model": MappingProxyType({})}
)


def sky_physics(preset: str = DEFAULT_PRESET, base: Physics | None = None) -> Physics:
    """The :class:`Physics` of the sky for a preset name, applied on top of ``base`` (default:
    the engine's default physics, which the emulator was trained on; pass the grid's physics
    when it differs, so that wavelength grid, resolution and normalization stay the model's).

    ValueError naming the preset and the known ones when ``preset`` is unknown.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown sky physics preset {preset!r}; known: {', '.join(PRESETS)}")
    from phdl.synth.physics import Physics

    changes = dict(PRESETS[preset])
    if "loggf_offsets" in changes:
        changes["loggf_offsets"] = dict(changes["loggf_offsets"])
    return replace(base or Physics(), **changes)
