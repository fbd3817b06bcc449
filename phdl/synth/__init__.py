"""The ab initio engine: a differentiable LTE spectral synthesis with exact gradient spectra.

Modules: ``physics`` (the modelling choices, :class:`Physics`), ``synthesizer`` (labels ->
normalized spectra and gradients), ``atmosphere`` (grey or ``atlas9`` T(tau), Saha,
hydrostatics), ``atoms`` and ``partition`` (atomic data; two-level or Barklem & Collet 2016
partition functions), ``continuum``, ``lines`` and ``line_bins`` (line opacity), ``profiles``,
``molecules``, ``transfer``, ``instrument``, ``wavegrid``, ``linelist`` with ``readers_vald`` /
``readers_gfall`` / ``readers_moog`` (line lists), ``vald`` (the built-in VALD selection,
``Physics(linelist="vald")``), ``diagnostics`` (gradient spectra) and
``solar`` (equivalent widths and the Sun); ``constants``, ``compiled`` (torch.compile where it
pays) and ``pool`` (one engine process per core).
"""

from .physics import Physics
from .synthesizer import Synthesizer

__all__ = ["Physics", "Synthesizer"]
