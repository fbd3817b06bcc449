"""Converged line transfer (issue 14, item 5): saturated lines keep their equivalent width when
the internal grid is made 4x finer (benchmarks/bench_convergence.py has the full table)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from phdl import labels as L
from phdl.synth import Physics, Synthesizer
from phdl.synth.linelist import BUILTIN_CSV
from phdl.synth.solar import equivalent_width

# saturated lines of the built-in list (60-300 mÅ in these stars), (species, vacuum Å)
LINES = (("Fe I", 4774.15), ("Fe I", 5986.48), ("Ca I", 6165.46))
STARS = np.array([L.solar(), L.solar(4500.0, 2.0, 1.5, 0.0)])


def _row(species, wl):
    with open(BUILTIN_CSV) as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r["species"] == species
                and abs(float(r["wavelength"]) - wl) < 0.02]  # fmt: skip
        return reader.fieldnames, rows[0]


def _ews(path, species, wl0, K):
    """Own EW [mÅ] of the one line in ``path`` for STARS at oversample K (solar.py's method)."""
    base = dict(linelist=str(path), molecules=False, balmer=False, wl_start=wl0 - 8.0,
                n_pix=int(16.0 / (wl0 * np.log(10.0) * 1e-4)) + 1, oversample=K)  # fmt: skip
    f = Synthesizer(Physics(**base), compile=False).unnormalized(STARS)
    syn0 = Synthesizer(Physics(**base, loggf_offsets={species: -30.0}), compile=False)
    f0 = syn0.unnormalized(STARS)
    win = (wl0 - 6.0, wl0 + 6.0)
    return np.array([equivalent_width(syn0.wavelength, f[i], win, f0[i]) for i in range(2)])


@pytest.mark.parametrize("species, wl", LINES, ids=[f"{s} {w:.0f}" for s, w in LINES])
def test_saturated_ews_converge_with_the_internal_grid(tmp_path, species, wl):
    fields, row = _row(species, wl)
    path = tmp_path / "line.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerow(row)
    wl0 = float(row["wavelength"])
    coarse, fine = _ews(path, species, wl0, 4), _ews(path, species, wl0, 16)
    assert np.all((fine > 40.0) & (fine < 350.0)), f"not a saturated line here: {fine} mÅ"
    drift = np.abs(coarse / fine - 1.0)
    assert drift.max() < 0.05, (
        f"{species} {wl0}: EW at oversample 4 {coarse.round(1)} vs 16 {fine.round(1)} mÅ "
        f"(drift {100 * drift.max():.1f} %)"
    )


def test_the_engine_version_is_in_the_physics_hash(monkeypatch):
    """Caches keyed by Physics.hash (the sky's spectra, a resumed grid) must not outlive a
    change of the engine's numerics."""
    from phdl.synth import physics

    before = Physics().hash()
    monkeypatch.setattr(physics, "ENGINE_VERSION", physics.ENGINE_VERSION + 1)
    assert Physics().hash() != before
