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
  differences (Figures 8 and 16), logg trends (Figure 9) and the bias of each calibration stage;
- :mod:`.validation`: M67 (Figures 10 and 11, the scatter budget) and the comparisons with
  surveys (Figures 12-14, differences against Teff);
- :mod:`.catalog`: the subgiant catalogue's [X/Fe] trends (Figure 15), bimodality and repeat
  visits.
"""

from phdl.plots.calibration import (
    calibration_stages_figure,
    fig7_atm_residuals,
    fig9_logg_trends,
    fig16_binary_deltas,
)
from phdl.plots.catalog import bimodality_figure, fig15_trends, repeat_visits
from phdl.plots.emulation import fig3_emulation, gradient_tradeoff, training_curves
from phdl.plots.fitting import fig4_gradients, fig5_one_to_one, fig6_correlations
from phdl.plots.spectra import (
    FEATURES,
    Feature,
    element_sensitivity,
    fig2_grid,
    gradient_spectra,
    spectrum_with_features,
)
from phdl.plots.validation import (
    delta_vs_teff,
    fig10_m67,
    fig11_scatter,
    m67_scatter_budget,
    survey_comparison,
)

__all__ = [
    "FEATURES",
    "Feature",
    "bimodality_figure",
    "calibration_stages_figure",
    "delta_vs_teff",
    "element_sensitivity",
    "fig2_grid",
    "fig3_emulation",
    "fig4_gradients",
    "fig5_one_to_one",
    "fig6_correlations",
    "fig7_atm_residuals",
    "fig9_logg_trends",
    "fig10_m67",
    "fig11_scatter",
    "fig15_trends",
    "fig16_binary_deltas",
    "gradient_spectra",
    "gradient_tradeoff",
    "m67_scatter_budget",
    "repeat_visits",
    "spectrum_with_features",
    "survey_comparison",
    "training_curves",
]
