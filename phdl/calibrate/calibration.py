"""The whole calibration of §4 as one object, saved to and loaded from one JSON file.

A :class:`Calibration` gathers the four steps, each optional so that a partial calibration (only
the §4.1 splines, or splines and Teff trends, ...) can be kept and applied:

- ``atm``: :class:`~phdl.calibrate.atm.AtmSplines` (§4.1)
- ``teff``: element symbol → :class:`~phdl.calibrate.teff_trend.TeffTrend` (§4.2.1)
- ``logg``: element symbol → :class:`~phdl.calibrate.logg_trend.LoggTrend` (§4.2.2)
- ``zero``: :class:`~phdl.calibrate.zero_points.ZeroPoints` (Table 3)

The file: ``{"format": "phdl-calibration", "version": 1, "atm": ..., "teff": ..., "logg": ...,
"zero": ...}``, written atomically (a temporary name, then rename: :mod:`phdl.atomic`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phdl.atomic import atomic_path
from phdl.calibrate.atm import AtmSplines
from phdl.calibrate.logg_trend import LoggTrend
from phdl.calibrate.teff_trend import TeffTrend
from phdl.calibrate.zero_points import ZeroPoints

FORMAT: str = "phdl-calibration"
VERSION: int = 1
#: The steps of :func:`phdl.calibrate.apply`, in the order they are applied.
STEPS: tuple[str, ...] = ("atm", "teff", "logg", "zero")


@dataclass(eq=False)
class Calibration:
    """The §4 calibration (module docstring); every part may be missing (None or empty)."""

    atm: AtmSplines | None = None
    teff: dict[str, TeffTrend] = field(default_factory=dict)
    logg: dict[str, LoggTrend] = field(default_factory=dict)
    zero: ZeroPoints | None = None

    @property
    def steps(self) -> tuple[str, ...]:
        """The steps this calibration holds, in :data:`STEPS` order."""
        have = {"atm": self.atm is not None, "teff": bool(self.teff), "logg": bool(self.logg),
                "zero": self.zero is not None}  # fmt: skip
        return tuple(s for s in STEPS if have[s])

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (module docstring)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "atm": None if self.atm is None else self.atm.to_dict(),
            "teff": {e: t.to_dict() for e, t in self.teff.items()},
            "logg": {e: t.to_dict() for e, t in self.logg.items()},
            "zero": None if self.zero is None else self.zero.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        """The inverse of :meth:`to_dict` (the format and version are checked by :meth:`load`)."""
        return cls(
            atm=None if d["atm"] is None else AtmSplines.from_dict(d["atm"]),
            teff={e: TeffTrend.from_dict(t) for e, t in d["teff"].items()},
            logg={e: LoggTrend.from_dict(t) for e, t in d["logg"].items()},
            zero=None if d["zero"] is None else ZeroPoints.from_dict(d["zero"]),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the calibration to the JSON file ``path`` (atomically); returns the path."""
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=True))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read a file written by :meth:`save`. A missing file is a FileNotFoundError, a corrupt
        one or one of another format or version a ValueError, each naming the file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no calibration file {path}")
        try:
            doc = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"calibration file {path} is not valid JSON: {err}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"{path} is not a phdl calibration file (no format {FORMAT!r})")
        if doc.get("version") != VERSION:
            raise ValueError(
                f"calibration file {path} has version {doc.get('version')!r}; "
                f"this phdl reads version {VERSION}"
            )
        try:
            return cls.from_dict(doc)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"calibration file {path} is incomplete or corrupt: {err!r}") from None
