"""The `Physics` dataclass: every modelling choice of the engine in one place.

The default is "our ab initio physics". A simulated survey synthesizes its
"observed" spectra through the same engine with a perturbed ``Physics`` (log gf offsets, missing
lines, damping factors, a temperature-structure tweak), so the emulator trained on the default
physics has realistic systematic errors against it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .linelist import read_linelist

#: The temperature structures ``Physics.atmosphere`` can take.
ATMOSPHERES: tuple[str, ...] = ("grey", "atlas9")
PARTITION_FUNCTIONS: tuple[str, ...] = ("two-level", "bc2016")


#: The version of the engine's numerics, part of :meth:`Physics.hash`: raise it whenever the
#: same Physics gives other spectra, so that caches keyed by the hash (the sky's spectra, a
#: resumed grid) are not mixed with spectra of the old numerics. 2: the escape-weighted line
#: cores of :func:`phdl.synth.profiles.core_opacity` (converged line transfer, issue 14).
ENGINE_VERSION = 2


@dataclass(frozen=True)
class Physics:
    """Modelling choices of :class:`phdl.synth.Synthesizer`.

    Attributes (units in brackets):
        linelist: path of the atomic line list (CSV, VALD, Kurucz gfall or MOOG); None =
            built-in (``phdl/data/linelist.csv`` and the molecular band model). It is read
            here, so a bad record fails at once with the reader's ``path:line: ... field ...``
            ValueError. The special value ``"vald"`` selects the built-in VALD selection,
            atoms and molecules (:mod:`phdl.synth.vald`, ``data/VALD.md``): its molecular
            lines replace the band model (``molecules`` still switches them on and off).
        loggf_offsets: per-species additive log gf offsets, e.g. ``{"Fe I": -0.05}`` [dex].
        loggf_scatter: Gaussian scatter added to every line's log gf with ``seed`` [dex].
        missing_line_fraction: fraction of atomic lines dropped at random with ``seed``.
        seed: seed for the two perturbations above.
        vdw_factor: multiplies van der Waals damping widths.
        stark_factor: multiplies Stark damping widths (metal lines and Balmer lines).
        rad_factor: multiplies radiative damping widths.
        teff_scale: multiplies the whole temperature structure T(tau).
        t_slope: adds ``t_slope * log10(tau)`` to the fractional temperature (a steeper or
            shallower gradient; 0.02 cools the upper layers by 2 % per dex of tau).
        molecules: include the molecular bands (CH, CN, C2, MgH, TiO).
        balmer: include the hydrogen Balmer lines.
        resolution: resolving power R = lambda / FWHM of the Gaussian line spread.
        norm_length: width L of the Gaussian normalization kernel, Eq. 22-24 [Å].
        wl_start: first pixel of the output grid [Å, vacuum].
        n_pix: number of output pixels (log10 step ``log_step``).
        log_step: output pixel step in log10(lambda).
        oversample: internal wavelength points per output pixel.
        n_depth: number of atmospheric depth points.
        log_tau_range: (top, bottom) of the depth grid in log10 tau_5000.
        n_mu: number of Gauss-Legendre angles for the flux integral.
        atmosphere: the temperature structure T(tau_5000): ``"grey"`` (Hopf) or ``"atlas9"``
            (Castelli & Kurucz 2003 models interpolated in Teff, logg and [M/H] = [Fe/H];
            :mod:`phdl.synth.atlas9`). Either way the engine solves its own Saha ionization and
            hydrostatics with the star's abundances, and ``teff_scale`` / ``t_slope`` apply.
        partition_functions: the atomic partition functions: ``"two-level"`` (the smooth
            approximation of :mod:`phdl.synth.atoms`, up to 2x off) or ``"bc2016"`` (Barklem &
            Collet 2016's tables, :mod:`phdl.synth.partition`).
    """

    linelist: str | None = None
    loggf_offsets: dict[str, float] = field(default_factory=dict)
    loggf_scatter: float = 0.0
    missing_line_fraction: float = 0.0
    seed: int = 0
    vdw_factor: float = 1.0
    stark_factor: float = 1.0
    rad_factor: float = 1.0
    teff_scale: float = 1.0
    t_slope: float = 0.0
    molecules: bool = True
    balmer: bool = True
    resolution: float = 1800.0
    norm_length: float = 50.0
    wl_start: float = 3750.0
    n_pix: int = 3800
    log_step: float = 1e-4
    oversample: int = 4
    n_depth: int = 40
    log_tau_range: tuple[float, float] = (-5.0, 1.5)
    n_mu: int = 3
    atmosphere: str = "grey"
    partition_functions: str = "two-level"

    def __post_init__(self) -> None:
        checks = {
            "missing_line_fraction": 0.0 <= self.missing_line_fraction < 1.0,
            "loggf_scatter": self.loggf_scatter >= 0.0,
            "vdw_factor": self.vdw_factor > 0,
            "stark_factor": self.stark_factor > 0,
            "rad_factor": self.rad_factor > 0,
            "teff_scale": 0.5 < self.teff_scale < 1.5,
            "resolution": self.resolution > 0,
            "norm_length": self.norm_length > 0,
            "n_pix": self.n_pix > 10,
            "oversample": self.oversample >= 1,
            "n_depth": self.n_depth >= 10,
            "n_mu": 1 <= self.n_mu <= 8,
            "log_tau_range": self.log_tau_range[0] < self.log_tau_range[1],
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"Physics: invalid value for {', '.join(bad)}")
        if self.atmosphere not in ATMOSPHERES:
            raise ValueError(
                f"Physics.atmosphere: {self.atmosphere!r} is not one of {', '.join(ATMOSPHERES)}"
            )
        if self.partition_functions not in PARTITION_FUNCTIONS:
            raise ValueError(
                f"Physics.partition_functions: {self.partition_functions!r} is not one of "
                f"{', '.join(PARTITION_FUNCTIONS)}"
            )
        if self.atmosphere == "atlas9":
            from . import atlas9

            atlas9.load()  # cached; FileNotFoundError / ValueError naming the data file
        if self.linelist == "vald":
            from . import vald

            vald.load()  # cached; FileNotFoundError / ValueError naming the data file
        elif self.linelist is not None:
            if not Path(self.linelist).exists():
                raise FileNotFoundError(f"Physics.linelist: no such file {self.linelist}")
            with warnings.catch_warnings():  # the Synthesizer's own read repeats them
                warnings.simplefilter("ignore")
                read_linelist(self.linelist)  # cached; raises the reader's precise error

    def to_dict(self) -> dict:
        """All fields as plain JSON-able values."""
        d = asdict(self)
        d["log_tau_range"] = list(self.log_tau_range)
        return d

    def hash(self) -> str:
        """Short sha256 of the physics choices, of :data:`ENGINE_VERSION` (and of the bytes of
        the line list file (for ``"vald"``: of the VALD selection's file), of the ATLAS9 grid
        and of the partition-function table when used).
        ``atmosphere`` and ``partition_functions`` enter only when they are not the defaults.
        A grid or a sky cache made by other numerics has another hash, and is not reused."""
        d = self.to_dict()
        d["engine_version"] = ENGINE_VERSION
        for name, default in (("atmosphere", "grey"), ("partition_functions", "two-level")):
            if d[name] == default:
                del d[name]
        h = hashlib.sha256(json.dumps(d, sort_keys=True).encode())
        if self.linelist == "vald":
            from . import vald

            h.update(vald.load().sha256.encode())
        elif self.linelist is not None:
            h.update(Path(self.linelist).read_bytes())
        if self.atmosphere == "atlas9":
            from . import atlas9

            h.update(atlas9.load().sha256.encode())
        if self.partition_functions == "bc2016":
            from . import partition

            h.update(partition.TABLE_CSV.read_bytes())
        return h.hexdigest()[:16]
