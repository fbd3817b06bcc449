"""A calibration beside the paper's: Table 2 (a, b, c, d) and Table 3 (zero points, source).

Both return astropy Tables with our values and the paper's (:func:`phdl.paper.table2`,
:func:`phdl.paper.table3`) in adjacent columns, one row per element of the calibration.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from phdl.calibrate.calibration import Calibration
from phdl.calibrate.teff_trend import REFERENCE_TEFF
from phdl.paper import table2, table3

__all__ = ["table2_beside_paper", "table3_beside_paper"]


def _paper_rows(table: Table) -> dict[str, dict]:
    return {str(r["element"]): {c: r[c] for c in table.colnames} for r in table}


def table2_beside_paper(cal: Calibration) -> Table:
    """Per element of ``cal.teff``: our a, b, c (posterior medians, T in kK) with their
    half 16-84 % widths, our d of Eq. 26 (the zero point minus f(T_ref), since the Teff step is
    applied relative to :data:`~phdl.calibrate.teff_trend.REFERENCE_TEFF`; dex; NaN without
    zero points; f(logg) keeps a level of its own, so compare with care), the
    number of pairs, whether the chain converged, and the paper's a, b, c, d."""
    paper = _paper_rows(table2())
    rows = []
    for el, tr in cal.teff.items():
        # Eq. 26's d: ours, measured after the Teff step f(T) − f(T_ref), minus f(T_ref)
        d = cal.zero.d.get(el, np.nan) - tr(REFERENCE_TEFF) if cal.zero is not None else np.nan
        p = paper.get(el, {})
        rows.append((el, tr.a, tr.a_err, tr.b, tr.b_err, tr.c, tr.c_err, d, tr.n_pairs,
                     bool(tr.converged), *(p.get(k, np.nan) for k in "abcd")))  # fmt: skip
    names = ("element", "a", "a_err", "b", "b_err", "c", "c_err", "d", "pairs", "converged",
             "paper_a", "paper_b", "paper_c", "paper_d")  # fmt: skip
    return Table(rows=rows, names=names)


def table3_beside_paper(cal: Calibration) -> Table:
    """Per element of ``cal.zero``: our reference zero point, its source and solar-twin count,
    and the paper's zero point and source (Table 3). ValueError without zero points."""
    if cal.zero is None:
        raise ValueError("the calibration has no zero points")
    ours = cal.zero.table()
    paper = _paper_rows(table3())
    ours["paper_zero_point"] = [paper.get(str(e), {}).get("zero_point", np.nan)
                                for e in ours["element"]]  # fmt: skip
    ours["paper_source"] = [str(paper.get(str(e), {}).get("source", "")) for e in ours["element"]]
    return ours
