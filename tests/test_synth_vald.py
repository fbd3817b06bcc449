"""The built-in VALD selection (``Physics(linelist="vald")``, phdl.synth.vald, data/VALD.md):
the data file, its loader, and the engine on it; the default physics stays as it was."""

from __future__ import annotations

import gzip
import hashlib
import warnings

import numpy as np
import pytest

from phdl import labels as L
from phdl.synth import Physics, Synthesizer, vald
from phdl.synth.linelist import ELEMENTS, air_to_vacuum
from phdl.synth.molecules import MOL_NAMES

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Physics().hash() before the VALD option existed (commit 3c04d4f): the default is unchanged
DEFAULT_HASH = "da1ef6cd017030f6"


def test_selection_loads_with_provenance():
    sel = vald.load()
    assert len(sel.atoms) > 3000 and len(sel.molecules) > 3000
    prov = sel.provenance
    assert prov["wheel_sha256"].startswith("95a483ac8111")
    assert len(prov["source_sha256"]) == 64 and "vald_3000_11000.list" in prov["source"]
    assert prov["lines"] == len(sel.atoms) + len(sel.molecules) + sum(sel.unknown.values())
    assert vald.DATA.stat().st_size < 1_000_000  # compact (issue 14: derived data <= 15 MB)
    assert np.all(np.diff(sel.atoms.wavelength) >= 0)
    assert 3740.0 <= sel.atoms.wavelength.min() and sel.atoms.wavelength.max() <= 9010.0


def test_every_label_element_keeps_lines():
    z = vald.load().atoms.Z
    counts = {el: int(np.sum(z == ELEMENTS.index(el) + 1)) for el in L.ELEMENTS}
    assert len(counts) == 30
    assert min(counts.values()) >= 20, counts  # the per-element floor of data/make_vald.py


def test_molecules_present_and_unknown_ones_counted():
    sel = vald.load()
    names = set(sel.molecules.names())
    assert {"CH", "CN", "C2", "TiO", "MgH", "OH", "CO"} <= names
    assert sel.unknown == {"SiH": 50}  # not in the engine's equilibrium: dropped at use


def test_wavelengths_are_vacuum():
    atoms = vald.load().atoms
    na = atoms.wavelength[(atoms.Z == 11) & (atoms.ion == 0)]
    for air in (5889.951, 5895.924):  # Na D2, D1 (air)
        assert np.min(np.abs(na - air_to_vacuum(np.array(air)))) < 0.01
        assert np.min(np.abs(na - air)) > 1.0


def test_lines_warns_about_unknown_molecules_and_cuts_range():
    with pytest.warns(UserWarning, match=r"dropped 50 line\(s\).*SiH 50"):
        atoms, bands = vald.lines(5000.0, 5300.0)
    assert bands["wavelength"].min() >= 5000.0 and bands["wavelength"].max() <= 5300.0
    assert set(bands) == {"wavelength", "mol", "excitation", "loggf"}
    assert MOL_NAMES.index("MgH") in set(bands["mol"].tolist())


def test_vald_solar_spectrum_is_finite_and_uses_the_list_molecules():
    with pytest.warns(UserWarning, match="SiH"):
        syn = Synthesizer(Physics(linelist="vald"), compile=False)
    lo, hi = syn.grid.edges[0], syn.grid.edges[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n_mol = len(vald.lines(lo, hi)[1]["wavelength"])
    assert int(np.sum(syn.lines.kind == 2)) == n_mol  # the band model is replaced
    flux = syn(L.solar()[None])
    assert flux.shape == (1, syn.physics.n_pix)
    # the Eq. 22-24 normalization overshoots at the blanketed blue end (1.33 by default, 1.71)
    assert np.all(np.isfinite(flux)) and 0.05 < flux.min() and flux.max() < 2.0
    assert 0.95 < np.median(flux) < 1.05


def test_default_physics_hash_unchanged_and_vald_hashed_by_its_file(tmp_path):
    assert Physics().hash() == DEFAULT_HASH
    h = Physics(linelist="vald").hash()
    assert h != DEFAULT_HASH and h == Physics(linelist="vald").hash()
    assert vald.load().sha256 == hashlib.sha256(vald.DATA.read_bytes()).hexdigest()


def test_bad_linelist_value_names_the_field():
    with pytest.raises(FileNotFoundError, match="Physics.linelist"):
        Physics(linelist="VALD3")


def test_bad_record_names_file_and_line(tmp_path):
    text = gzip.decompress(vald.DATA.read_bytes()).decode().splitlines()
    text[3] = text[3].replace(",", ",x", 1)  # record on line 4: a bad wavelength
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(gzip.compress(("\n".join(text) + "\n").encode()))
    with pytest.raises(ValueError, match=r"bad\.csv\.gz:4: "):
        vald.load(bad)
    with pytest.raises(FileNotFoundError, match="make_vald"):
        vald.load(tmp_path / "missing.csv.gz")
