"""Real data formats, each read into phdl's names with errors that name the file and column:

- ``lamost``          LAMOST low-resolution spectra (FITS, DR1–7 and DR8+) → normalized spectra
                      to fit (Eq. 22–24)
- ``lamost_catalog``  the LAMOST LRS catalogue → Table 4's identifiers (SPECID, UQFLAG), the
                      spectra's file names, the manifest of ``phdl catalog`` (chapter 09)
- ``surveys``         APOGEE, GALAH, LAMOST DD-Payne and Hypatia catalogues → ``source_id``,
                      ``Teff``, ``logg``, ``[Fe/H]``, ``[X/Fe]``, flags applied (chapters 06–09)
- ``members``         open-cluster membership lists (Cantat-Gaudin, Hunt & Reffert) → M67's
                      Gaia ids (chapters 06, 07)
- ``binaries``        El-Badry et al. (2021) wide binaries → the calibration's pairs (chapter 06)

The names below are imported on first use (PEP 562), so reading a catalogue does not load the
fitting code (and torch) that the spectra reader needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phdl.io.binaries import read_el_badry
    from phdl.io.lamost import LamostWarning, is_fits, normalize, read_lamost, read_lamost_file
    from phdl.io.lamost_catalog import (
        read_lamost_catalog,
        spec_filename,
        specid,
        write_manifest,
    )
    from phdl.io.members import read_members
    from phdl.io.surveys import standardize

#: Public name -> the module of phdl.io that defines it.
_EXPORTS: dict[str, str] = {
    "LamostWarning": "lamost",
    "is_fits": "lamost",
    "normalize": "lamost",
    "read_lamost": "lamost",
    "read_lamost_file": "lamost",
    "read_lamost_catalog": "lamost_catalog",
    "spec_filename": "lamost_catalog",
    "specid": "lamost_catalog",
    "write_manifest": "lamost_catalog",
    "standardize": "surveys",
    "read_members": "members",
    "read_el_badry": "binaries",
}

__all__ = [
    "LamostWarning",
    "is_fits",
    "normalize",
    "read_el_badry",
    "read_lamost",
    "read_lamost_catalog",
    "read_lamost_file",
    "read_members",
    "spec_filename",
    "specid",
    "standardize",
    "write_manifest",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'phdl.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"phdl.io.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
