"""The ab initio engine: a differentiable LTE spectral synthesis with exact gradient spectra."""

from .physics import Physics
from .synthesizer import Synthesizer

__all__ = ["Physics", "Synthesizer"]
