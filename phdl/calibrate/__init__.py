"""The calibration of §4.1-4.2: our labels put on external scales (Eq. 26-28, Tables 2-3).

The files, in the order the chain runs:

- ``catalogs``     catalogues in (Tables or DataFrames), column checks, cross-match (pandas)
- ``smooth``       the one smoother: natural cubic spline through equal-count binned medians
- ``atm``          §4.1, Fig. 7: Teff, logg, [Fe/H] splines vs Teff, dwarfs and giants apart
- ``binaries``     §4.2.1: pairs of our labels by Gaia id, the paper's four cuts, Eq. 28's data
- ``teff_trend``   §4.2.1, Eq. 27-28, Table 2: f(Teff) = aT³ + bT² + cT from wide binaries (emcee)
- ``logg_trend``   §4.2.2, Fig. 9: f(logg), our [X/Fe] trend with logg minus the reference's
- ``zero_points``  Table 3: zero points d from the solar twins of Hypatia, else GALAH DR3
- ``calibration``  ``Calibration``: the four steps in one object, one JSON file
- ``correct``      ``apply``: Eq. 26 subtracted, step by step, into a new table
- ``chain``        ``fit_calibration``: the four steps in order, from fitted samples
"""

from phdl.calibrate.atm import AtmSplines, fit_atm_splines
from phdl.calibrate.binaries import binary_cuts, pair_deltas, pair_table
from phdl.calibrate.calibration import STEPS, Calibration
from phdl.calibrate.chain import fit_calibration, teff_trends
from phdl.calibrate.correct import apply
from phdl.calibrate.logg_trend import LoggTrend, fit_logg_trend, fit_logg_trends
from phdl.calibrate.smooth import MedianSpline, fit_median_spline
from phdl.calibrate.teff_trend import TeffTrend, fit_teff_trend
from phdl.calibrate.zero_points import ZeroPoints, zero_points

__all__ = [
    "STEPS",
    "AtmSplines",
    "Calibration",
    "LoggTrend",
    "MedianSpline",
    "TeffTrend",
    "ZeroPoints",
    "apply",
    "binary_cuts",
    "fit_calibration",
    "fit_atm_splines",
    "fit_logg_trend",
    "fit_logg_trends",
    "fit_median_spline",
    "fit_teff_trend",
    "pair_deltas",
    "pair_table",
    "teff_trends",
    "zero_points",
]
