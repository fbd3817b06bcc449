"""Validation (§4.3–4.4) and the catalogue's checks (§5): numbers and tables, never sentences.

The chapters on M67, the survey comparisons and the subgiant catalogue import these; every
function returns floats, arrays or astropy Tables with the columns named in its docstring.

- ``cluster``     M67: clipped star-to-star scatter per element, its logg slope, its intrinsic
                  and measurement parts given the truth; ours against GALAH on common members
- ``surveys``     ours − reference per label (offset, std, robust std, cool/hot split); the
                  dispersion budget split into ours' and the reference's errors given the truth
- ``bimodality``  1-D Gaussian mixtures by EM; the high/low-α discs per [Fe/H] bin (Figure 15)
                  and the sky's true high-α fraction
- ``repeats``     repeat visits: per-visit scatter and whether the quoted errors tell the truth
- ``common``      a label's column, a plain std (the robust std and the cross-match are
                  phdl.calibrate's)
"""

from phdl.validate.bimodality import (
    ALPHA_FEH_EDGES,
    Mixture,
    alpha_bimodality,
    gaussian_mixture,
    true_fractions,
)
from phdl.validate.cluster import clipped_stats, logg_slope, member_stats, scatter_comparison
from phdl.validate.repeats import normalized_differences, repeat_scatter, visit_pairs
from phdl.validate.surveys import compare, dispersion_budget, survey_labels

__all__ = [
    "ALPHA_FEH_EDGES", "Mixture", "alpha_bimodality", "clipped_stats", "compare",
    "dispersion_budget", "gaussian_mixture", "logg_slope", "member_stats",
    "normalized_differences", "repeat_scatter",
    "scatter_comparison", "survey_labels", "true_fractions", "visit_pairs",
]  # fmt: skip
