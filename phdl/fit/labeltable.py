"""The label table on disk: FITS, written atomically, with the paper's column names."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from astropy.table import Table

from phdl.atomic import atomic_path


@contextmanager
def _quiet_names() -> Iterator[None]:
    """Silence astropy's advice to use only letters, digits and underscores in FITS column
    names: ours keep the paper's Table 4 spelling (``[Fe/H]``, ``[Mg/Fe]_err``), which FITS
    allows; and its complaint that the unit "dex" (Table 4's) is not a FITS standard unit."""
    from astropy.io.fits.verify import VerifyWarning
    from astropy.units import UnitsWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "It is strongly recommended", VerifyWarning)
        warnings.filterwarnings("ignore", "'dex' did not parse as fits unit", UnitsWarning)
        yield


def write_table(table: Table, path: str | os.PathLike[str]) -> Path:
    """Write a label table as FITS, atomically (a temporary name, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp, _quiet_names():
        table.write(tmp, format="fits", overwrite=True)
    return path


def read_table(path: str | os.PathLike[str]) -> Table:
    """Read a label table written by :func:`write_table` (``phdl fit --out``)."""
    with _quiet_names():
        return Table.read(path, format="fits")
