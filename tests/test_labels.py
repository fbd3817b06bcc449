"""phdl.labels: the 34 labels of Table 1, their ranges, scaling (Eq. 25) and fitting groups."""

import numpy as np
import pytest

from phdl import labels as L


def test_34_labels_in_paper_order():
    assert len(L.LABELS) == L.N_LABELS == 34
    assert L.LABELS[:4] == ("Teff", "logg", "vmic", "[Fe/H]")
    assert L.LABELS[4:7] == ("[C/Fe]", "[N/Fe]", "[O/Fe]")
    assert L.LABELS[-1] == "[Eu/Fe]"
    assert len(set(L.LABELS)) == 34
    assert set(L.RANGES) == set(L.LABELS)


@pytest.mark.parametrize(
    "name, rng",
    [
        ("Teff", (3800.0, 8000.0)),
        ("[Fe/H]", (-4.0, 0.5)),
        ("[C/Fe]", (-1.5, 1.5)),
        ("[N/Fe]", (-1.5, 1.5)),
        ("[O/Fe]", (-0.5, 1.0)),
        ("[K/Fe]", (-1.0, 1.0)),
        ("[Mg/Fe]", (-0.4, 0.6)),
        ("[Ti/Fe]", (-0.4, 0.6)),
        ("[Zn/Fe]", (-0.8, 0.8)),
        ("[Ba/Fe]", (-1.5, 2.0)),
        ("[Eu/Fe]", (-1.5, 2.0)),
    ],
)
def test_ranges_as_table_1(name, rng):
    assert L.RANGES[name] == rng


def test_scale_unscale_round_trip():
    rng = np.random.default_rng(0)
    phys = L.LOWER + rng.uniform(size=(50, 34)) * (L.UPPER - L.LOWER)
    lo, hi = phys.min(0), phys.max(0)  # the training set's min and max, as a model keeps them
    s = L.scale(phys, lo, hi)
    assert s.shape == (50, 34)
    assert np.all((s >= 0) & (s <= 1)) and np.allclose(s.min(0), 0) and np.allclose(s.max(0), 1)
    np.testing.assert_allclose(L.unscale(s, lo, hi), phys, rtol=1e-12, atol=1e-9)


def test_scale_known_value_eq_25():
    # p' = (p - p_min) / (p_max - p_min): Teff 5000 K in a training set spanning 4000-6000 K
    assert L.scale(np.array([5000.0]), np.array([4000.0]), np.array([6000.0]))[0] == 0.5
    assert L.scale(np.array([3500.0]), np.array([4000.0]), np.array([6000.0]))[0] == -0.25
    assert L.unscale(np.array([1.25]), np.array([-0.4]), np.array([0.6]))[0] == pytest.approx(0.85)


def test_scale_works_on_torch_tensors():
    torch = pytest.importorskip("torch")
    lo, hi = torch.tensor([4000.0, 0.0]), torch.tensor([6000.0, 5.0])
    s = L.scale(torch.tensor([[5000.0, 1.0]]), lo, hi)
    assert isinstance(s, torch.Tensor)
    torch.testing.assert_close(s, torch.tensor([[0.5, 0.2]]))
    torch.testing.assert_close(L.unscale(s, lo, hi), torch.tensor([[5000.0, 1.0]]))


def test_validate_out_of_range_names_label_and_range():
    x = L.solar()
    x[L.index("[Mg/Fe]")] = 0.9
    with pytest.raises(ValueError, match=r"\[Mg/Fe\].*\[-0\.4, 0\.6\]"):
        L.validate(x)
    L.validate(x, check_range=False)  # allowed when asked


def test_validate_nan_names_label():
    x = np.tile(L.solar(), (3, 1))
    x[2, L.index("logg")] = np.nan
    with pytest.raises(ValueError, match="logg of star 2"):
        L.validate(x)


def test_validate_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(n, 34\).*\(5, 33\)"):
        L.validate(np.zeros((5, 33)))


def test_validate_promotes_single_star():
    assert L.validate(L.solar()).shape == (1, 34)


def test_groups_partition_labels():
    assert len(L.GROUP_I) == 16 and len(L.GROUP_II) == 12 and len(L.NOT_FITTED) == 6
    together = L.GROUP_I + L.GROUP_II + L.NOT_FITTED
    assert len(together) == len(set(together)) == 34
    assert set(together) == set(L.LABELS)


def test_index_unknown_label():
    assert L.index("[Fe/H]") == 3
    with pytest.raises(ValueError, match="unknown label"):
        L.index("[Xx/Fe]")


# The tests below were added to kill mutants that survived `python benchmarks/mutants.py labels`.


def test_solar_is_the_sun_with_all_xfe_zero():
    x = L.solar()
    assert x.shape == (34,)
    np.testing.assert_array_equal(x[:4], [5772.0, 4.44, 1.0, 0.0])  # Teff, logg, vmic, [Fe/H]
    assert np.all(x[4:] == 0.0)
    np.testing.assert_array_equal(L.solar(4500.0, 2.0, 1.5, -1.0)[:4], [4500.0, 2.0, 1.5, -1.0])


def test_validate_accepts_the_bounds_and_the_tolerance_only():
    """Table 1's ranges are closed, with ``tol`` (1e-9) of slack on either side."""
    L.validate(L.LOWER)  # every label at its minimum
    L.validate(L.UPPER)  # ... and at its maximum
    L.validate(L.LOWER - 1e-9)  # the edge of the tolerance is still inside
    L.validate(L.UPPER + 1e-9)
    with pytest.raises(ValueError, match="Teff of star 0"):
        L.validate(L.LOWER - 1e-6)
    with pytest.raises(ValueError, match="Teff of star 0"):
        L.validate(L.UPPER + 1e-6)


def test_validate_returns_float64():
    assert L.validate(L.solar().astype(np.float32)).dtype == np.float64
    ints = L.validate([[5000, 4, 1, 0] + [0] * 30])
    assert ints.dtype == np.float64 and ints[0, 0] == 5000.0


def test_index_unknown_label_lists_the_labels():
    with pytest.raises(ValueError, match=r"expected one of Teff, logg, vmic, \[Fe/H\], \[C/Fe\]"):
        L.index("Tef")


def test_coverage_table_beside_table_1():
    x = np.stack([L.solar(5000.0, 2.5), L.solar(6000.0, 4.5, feh=-1.0), L.solar(5800.0)])
    x[1, L.index("[Mg/Fe]")] = 0.4
    t = L.coverage_table(x)
    assert t.colnames == [
        "label", "unit", "min (Table 1)", "max (Table 1)", "min (grid)", "max (grid)",
        "median (grid)",
    ]  # fmt: skip
    assert list(t["label"]) == list(L.LABELS)
    assert list(t["unit"][:4]) == ["K", "dex", "km/s", "dex"] and set(t["unit"][4:]) == {"dex"}
    np.testing.assert_array_equal(t["min (Table 1)"], L.LOWER)
    np.testing.assert_array_equal(t["max (Table 1)"], L.UPPER)
    teff, mg = 0, L.index("[Mg/Fe]")
    assert (t["min (grid)"][teff], t["max (grid)"][teff], t["median (grid)"][teff]) == (
        5000.0, 6000.0, 5800.0,
    )  # fmt: skip
    assert (t["min (grid)"][mg], t["max (grid)"][mg], t["median (grid)"][mg]) == (0.0, 0.4, 0.0)
    for col in t.colnames[:2]:
        assert not t[col].format
    for col in t.colnames[2:]:
        assert t[col].format == ".2f"
    # a grid outside Table 1 is shown, not refused (the table is where it becomes visible)
    x[0, teff] = 9000.0
    assert L.coverage_table(x)["max (grid)"][teff] == 9000.0
