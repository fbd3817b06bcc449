"""Figures of the book: one function per figure, each returning its matplotlib Figure.

Conventions: wavelengths in Å (vacuum), labels in physical units (K, dex, km/s), fluxes
normalized (Eq. 22-24), gradient spectra ∂flux/∂label per physical unit as the engine and the
grid file give them. Only matplotlib is used and nothing is shown or saved here, so every
function works under the non-interactive Agg backend (papermill, CI) as well as in JupyterLab.

- :mod:`.spectra`: the grid (Figure 2), spectra with features, gradient spectra, sensitivity;
- :mod:`.emulation`: emulation residuals (Figure 3) and training curves;
- :mod:`.fitting`: gradient spectra of the emulators (Figure 4), one-to-one recovery (Figure 5)
  and correlation matrices (Figure 6).
"""

from phdl.plots.emulation import fig3_emulation, training_curves
from phdl.plots.fitting import fig4_gradients, fig5_one_to_one, fig6_correlations
from phdl.plots.spectra import (
    FEATURES,
    Feature,
    element_sensitivity,
    fig2_grid,
    gradient_spectra,
    spectrum_with_features,
)

__all__ = [
    "FEATURES",
    "Feature",
    "element_sensitivity",
    "fig2_grid",
    "fig3_emulation",
    "fig4_gradients",
    "fig5_one_to_one",
    "fig6_correlations",
    "gradient_spectra",
    "spectrum_with_features",
    "training_curves",
]
