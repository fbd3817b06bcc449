"""Regenerate tests/data/engine_reference.npz, the engine's spectra at three fixed label sets
that tests/test_engine_reference.py compares against.

Run it only when the engine's physics changes on purpose, look at what changed (the script
prints the largest change per star), and say why in the commit that updates the file:

    PHDL_COMPILE=0 OMP_NUM_THREADS=1 .venv/bin/python tests/data/make_reference.py

Eager mode (PHDL_COMPILE=0), default Physics, built-in line list, float64; the flux is stored
as float32 (3 x 3800 pixels, ~40 kB compressed).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "engine_reference.npz"


def stars() -> tuple[list[str], np.ndarray]:
    """Names and labels (3, 34) of the reference stars: the Sun; a cool red giant with
    mixed C and N; a hot, alpha-enhanced metal-poor dwarf."""
    from phdl import labels as L

    sun = L.solar(5772.0, 4.44, 1.0, 0.0)
    giant = L.solar(4300.0, 1.8, 1.5, -0.3)
    for name, value in {"[C/Fe]": -0.3, "[N/Fe]": 0.5, "[Mg/Fe]": 0.1, "[Ba/Fe]": 0.2}.items():
        giant[L.index(name)] = value
    dwarf = L.solar(6800.0, 4.2, 1.5, -1.5)
    for name in ("[O/Fe]", "[Mg/Fe]", "[Si/Fe]", "[S/Fe]", "[Ca/Fe]", "[Ti/Fe]"):
        dwarf[L.index(name)] = 0.4
    return ["sun", "cool_giant", "hot_metal_poor_dwarf"], np.array([sun, giant, dwarf])


def main() -> None:
    os.environ.setdefault("PHDL_COMPILE", "0")
    from phdl import __version__
    from phdl.synth import Synthesizer

    names, labels = stars()
    syn = Synthesizer(compile=False)
    flux = syn(labels)
    if OUT.exists():
        old = np.load(OUT)
        if old["flux"].shape == flux.shape:
            for name, d in zip(names, np.abs(flux - old["flux"]).max(1), strict=True):
                print(f"{name}: largest change {d:.2e}")
    np.savez_compressed(
        OUT,
        names=np.array(names),
        labels=labels,
        wavelength=syn.wavelength,
        flux=flux.astype(np.float32),
        physics_hash=np.array(syn.physics.hash()),
        version=np.array(__version__),
    )
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
