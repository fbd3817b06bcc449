"""Figures of the book: one function per figure, each returning its matplotlib Figure.

Conventions: wavelengths in Å (vacuum), labels in physical units (K, dex, km/s), fluxes
normalized (Eq. 22-24), gradient spectra ∂flux/∂label per physical unit as the engine and the
grid file give them. Only matplotlib is used and nothing is shown or saved here, so every
function works under the non-interactive Agg backend (papermill, CI) as well as in JupyterLab.

- :mod:`.spectra`: the grid (Figure 2), spectra with features, gradient spectra, sensitivity;
- :mod:`.emulation`: emulation residuals (Figure 3) and training curves;
- :mod:`.fitting`: gradient spectra of the emulators (Figure 4), one-to-one recovery (Figure 5)
  and correlation matrices (Figure 6);
- :mod:`.calibration`: atmospheric parameters against a reference (Figure 7), wide-binary
  differences (Figures 8 and 16), logg trends (Figure 9) and the bias of each calibration stage.
"""

from phdl.plots.calibration import (
    calibration_stages_figure,
    fig7_atm_residuals,
    fig9_logg_trends,
    fig16_binary_deltas,
)
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
    "calibration_stages_figure",
    "element_sensitivity",
    "fig2_grid",
    "fig3_emulation",
    "fig4_gradients",
    "fig5_one_to_one",
    "fig6_correlations",
    "fig7_atm_residuals",
    "fig9_logg_trends",
    "fig16_binary_deltas",
    "gradient_spectra",
    "spectrum_with_features",
    "training_curves",
]
