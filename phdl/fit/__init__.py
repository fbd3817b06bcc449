"""Fitting spectra with an emulator (Section 2.2): χ² (Eq. 15) and batched CMA-ES.

- :func:`add_noise`, :func:`chi2`, :func:`resample`, :func:`read_spectra` / :func:`write_spectra`
  (:mod:`phdl.fit.spectra`);
- :func:`fit_spectra`: the full 28-label fit or the paper's two-stage strategy, many stars
  advancing together with one emulator call per generation (:mod:`phdl.fit.fitting`,
  :mod:`phdl.fit.cmaes`);
- :class:`ToyModel`: an analytic stand-in emulator for tests and benchmarks.
"""

from phdl.fit.cmaes import BOUNDS, default_popsize
from phdl.fit.fitting import (
    BANK_SHAPE,
    FITTED,
    GN_STEPS,
    MAX_ITER,
    POPSIZE,
    SIGMA0,
    STRATEGIES,
    TOL,
    bank_start,
    default_labels,
    fit_spectra,
)
from phdl.fit.labeltable import read_table, write_table
from phdl.fit.linear import FD_STEP, gauss_newton_start, jacobian_fd
from phdl.fit.spectra import (
    ResampleWarning,
    Spectra,
    add_noise,
    chi2,
    clean,
    on_model_grid,
    read_spectra,
    resample,
    write_spectra,
)
from phdl.fit.toy import ToyModel

__all__ = [
    "BANK_SHAPE",
    "BOUNDS",
    "FD_STEP",
    "FITTED",
    "GN_STEPS",
    "MAX_ITER",
    "POPSIZE",
    "SIGMA0",
    "STRATEGIES",
    "TOL",
    "ResampleWarning",
    "Spectra",
    "ToyModel",
    "add_noise",
    "bank_start",
    "chi2",
    "clean",
    "default_labels",
    "default_popsize",
    "fit_spectra",
    "gauss_newton_start",
    "jacobian_fd",
    "on_model_grid",
    "read_spectra",
    "resample",
    "write_spectra",
    "read_table",
    "write_table",
]
