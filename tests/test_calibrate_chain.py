"""The calibration chain on the sky's truth with an injected Eq. 26 error, and its reports."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table, vstack

from phdl import paper
from phdl.calibrate import binary_cuts, fit_calibration, pair_deltas, pair_table
from phdl.calibrate.chain import STAGES, calibration_stages, snr_cut
from phdl.calibrate.report import table2_beside_paper, table3_beside_paper
from phdl.io.surveys import standardize
from phdl.sky import references as ref
from phdl.sky import sample
from phdl.sky.score import score, score_stages, shifts, verdicts

ELEMENTS = ("Mg", "Ca")


def _error(teff, logg, el):
    """An Eq. 26 error: a Teff slope, a logg slope and a constant, different per element."""
    k = 1.0 if el == "Mg" else -1.0
    return k * (0.08 * (teff - 5800.0) / 1000.0 + 0.05 * (logg - 4.0) + 0.1)


def _ours(truth: Table, seed: int) -> Table:
    """ "Fitted" labels: the truth with the injected error and a little noise."""
    rng = np.random.default_rng(seed)
    out = Table({"source_id": truth["source_id"]})
    for name in ("Teff", "logg", "[Fe/H]"):
        out[name] = np.asarray(truth[name], float)
    for el in ELEMENTS:
        x = np.asarray(truth[f"[{el}/Fe]"], float)
        out[f"[{el}/Fe]"] = x + _error(out["Teff"], out["logg"], el) + rng.normal(0, 0.02, len(x))
        out[f"[{el}/Fe]_err"] = np.full(len(x), 0.02)
    return out


@pytest.fixture(scope="module")
def chain():
    common, binaries = sample("common", 600, 1), sample("binaries", 500, 1)
    m67, giants = sample("m67", 60, 1), sample("giants", 60, 1)
    truth = vstack([t[["source_id", "Teff", "logg", "[Fe/H]", "[Mg/Fe]", "[Ca/Fe]"]]
                    for t in (common, binaries, m67, giants)])  # fmt: skip
    ours = _ours(truth, 2)
    hyp_stars = ref.hypatia_stars(600, 1)
    hyp = standardize(ref.hypatia_catalog(hyp_stars, 1), "hypatia",
                      solar_offset=ref.hypatia_solar_offset())  # fmt: skip
    galah = standardize(ref.galah_dr3(common, 1), "galah")
    survey = Table({c: binaries[c] for c in ("source_id", "snr_g", "vlos")})
    atm = ours[np.isin(ours["source_id"], common["source_id"])]
    cal = fit_calibration(
        common=atm, lamost_reference=standardize(ref.dd_payne(common, 1), "dd_payne"),
        binaries=ours[np.isin(ours["source_id"], binaries["source_id"])],
        pairs=ref.el_badry(binaries, 1), survey=survey, logg_sample=ours, hypatia=hyp,
        galah=galah, elements=ELEMENTS,
    )  # fmt: skip
    return truth, ours, cal, binaries, survey


def test_the_chain_removes_an_injected_error_against_the_truth(chain):
    truth, ours, cal, *_ = chain
    stages = calibration_stages(ours, cal)
    assert list(stages) == list(STAGES)
    names = ["[Mg/Fe]", "[Ca/Fe]"]
    before = score(stages["before"], truth, names)
    after = score(stages["after zero points"], truth, names)
    assert np.all(np.abs(before["median"]) > 0.05)  # the error is there to begin with
    assert np.all(np.abs(after["median"]) < 0.03)
    assert np.all(after["teff_spread"] < 0.02) and np.all(before["teff_spread"] > 0.02)
    checked = verdicts(after, names)
    assert list(checked["met"]) == [True, True]


def test_the_teff_step_predicts_the_pairs_injected_differences(chain):
    truth, ours, cal, binaries, survey = chain
    kept = binary_cuts(pair_table(ours, ref.el_badry(binaries, 1), survey))
    i1, i2 = np.arange(0, len(kept), 2), np.arange(1, len(kept), 2)
    teff, logg = np.asarray(kept["Teff"]), np.asarray(kept["logg"])
    for el in ELEMENTS:
        injected = _error(teff, logg, el)
        want = injected[i1] - injected[i2]  # the Teff and logg terms: logg follows Teff on the MS
        got = cal.teff[el](teff[i1]) - cal.teff[el](teff[i2])
        assert np.sqrt(np.mean((got - want) ** 2)) < 0.01
        assert np.std(want) > 0.01  # and there was a difference to predict


def test_pairs_by_gaia_id_and_the_cuts(chain):
    truth, ours, cal, binaries, survey = chain
    pairs = ref.el_badry(binaries, 1)
    table = pair_table(ours, pairs, survey)
    assert len(table) == 2 * len(pairs)
    assert {"pair_id", "component", "snr_g", "vlos", "[Mg/Fe]"} <= set(table.colnames)
    kept = binary_cuts(table)
    t1, t2, delta, err = pair_deltas(kept, "Mg")
    assert len(t1) == len(kept) // 2 and np.all(err == pytest.approx(0.02 * np.sqrt(2)))
    # the true pairs share [Mg/Fe]: delta is the injected error's difference plus noise
    e = _error(np.asarray(kept["Teff"]), np.asarray(kept["logg"]), "Mg")
    expected = e[0::2] - e[1::2]
    assert np.median(delta - expected) == pytest.approx(0.0, abs=0.005)
    assert np.std(delta - expected) == pytest.approx(0.02 * np.sqrt(2), rel=0.25)


def test_a_pair_with_a_star_missing_from_ours_is_left_out(chain):
    truth, ours, cal, binaries, survey = chain
    pairs = ref.el_badry(binaries, 1)
    table = pair_table(ours[ours["source_id"] != pairs["source_id2"][0]], pairs, survey)
    assert len(table) == 2 * (len(pairs) - 1)
    with pytest.raises(ValueError, match="'pairs'.*'source_id2'"):
        pair_table(ours, pairs[["source_id1"]], survey)


def test_snr_cut_keeps_what_passes_every_present_cut():
    t = Table({"snr_g": [41.0, 39.0, 80.0], "snr_c3_iraf": [61.0, 100.0, 60.0]})
    assert list(snr_cut(t)["snr_g"]) == [41.0]
    with pytest.raises(ValueError, match="none of the S/N columns"):
        snr_cut(Table({"x": [1.0]}))


def test_the_tables_beside_the_paper(chain):
    _, _, cal, _, _ = chain
    t2 = table2_beside_paper(cal)
    assert list(t2["element"]) == list(ELEMENTS)
    mg = dict(zip(paper.table2()["element"], paper.table2()["a"], strict=True))["Mg"]
    assert t2["paper_a"][0] == mg and np.isfinite(t2["d"][0])
    t3 = table3_beside_paper(cal)
    assert {"zero_point", "source", "paper_zero_point", "paper_source"} <= set(t3.colnames)


def test_shifts_and_stage_scores_on_hand_made_tables():
    truth = Table({"source_id": [1, 2, 3, 4, 5, 6], "Teff": [4600.0, 4700, 5600, 5700, 6600, 6700],
                   "logg": [4.5] * 6, "[Mg/Fe]": [0.0] * 6})  # fmt: skip
    fitted = truth.copy()
    fitted["[Mg/Fe]"] = [0.1, 0.1, 0.2, 0.2, 0.3, 0.3]
    s = score(fitted, truth, ["[Mg/Fe]"], min_per_bin=2)
    assert s["median"][0] == pytest.approx(0.2)
    assert s["teff_range"][0] == pytest.approx(0.2)
    assert s["teff_spread"][0] == pytest.approx(np.std([0.1, 0.2, 0.3]))
    both = score_stages({"a": truth, "b": fitted}, truth, ["[Mg/Fe]"], min_per_bin=2)
    assert list(both["stage"]) == ["a", "b"]
    moved = shifts(truth, fitted, ["[Mg/Fe]"])
    assert moved["median_shift"][0] == pytest.approx(0.2)
    assert moved["max_abs_shift"][0] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="no star of the fitted table matches"):
        score(Table({"source_id": [9], "[Mg/Fe]": [0.0]}), truth, ["[Mg/Fe]"])


def test_an_element_without_usable_pairs_gets_no_trend_and_a_warning(chain):
    from phdl.calibrate import teff_trends

    truth, ours, cal, binaries, survey = chain
    blind = ours.copy()
    blind["[Ca/Fe]"] = np.nan
    with pytest.warns(UserWarning, match=r"no Teff trend for Ca \(0 pairs\)"):
        trends, kept = teff_trends(blind, ref.el_badry(binaries, 1), survey, ELEMENTS,
                                   nsteps=300, burn=100)  # fmt: skip
    assert set(trends) == {"Mg"} and len(kept) > 0


def test_tables_read_from_fits_cross_match_and_pair(chain, tmp_path):
    """FITS columns are big-endian; pandas joins need them in the machine's order."""
    truth, ours, cal, binaries, survey = chain
    from phdl.calibrate.catalogs import crossmatch

    ours.write(tmp_path / "ours.fits")
    survey.write(tmp_path / "survey.fits")
    ref.el_badry(binaries, 1).write(tmp_path / "pairs.fits")
    ours_f, survey_f = Table.read(tmp_path / "ours.fits"), Table.read(tmp_path / "survey.fits")
    a, b = crossmatch(ours_f, survey_f, [])
    assert len(a) == len(survey) and np.array_equal(a["source_id"], b["source_id"])
    table = pair_table(ours_f, Table.read(tmp_path / "pairs.fits"), survey_f)
    assert len(table) == 2 * len(ref.el_badry(binaries, 1))


def test_shift_summary_counts_within_the_limit_and_names_the_worst():
    from phdl.labels import GROUP_I_XFE
    from phdl.sky.score import shift_summary

    moved = Table({"label": ["[C/Fe]", "[N/Fe]", "[O/Fe]", "[Mg/Fe]"],
                   "median_shift": [0.01, -0.3, np.nan, 0.02]})  # fmt: skip
    assert shift_summary(moved) == {"n_within": 2, "n": 3, "worst": "[N/Fe]", "worst_shift": -0.3}
    assert len(GROUP_I_XFE) == 13 and "[Fe/H]" not in GROUP_I_XFE and GROUP_I_XFE[0] == "[C/Fe]"


# ------------------------------------------------------ hand-made pairs: pair_table, binary_cuts
def _hand_pairs():
    ours = Table({"source_id": np.arange(1, 7), "Teff": np.linspace(5000.0, 6000.0, 6)})
    pairs = Table({"source_id1": [1, 3, 5], "source_id2": [2, 4, 99]})  # 99: not in ours
    survey = Table({"source_id": np.arange(6, 0, -1), "snr_g": np.arange(60.0, 0.0, -10.0),
                    "Teff": np.zeros(6), "vlos": np.arange(6.0)})  # fmt: skip
    return ours, pairs, survey


def test_pair_table_on_a_hand_made_catalogue():
    ours, pairs, survey = _hand_pairs()
    table = pair_table(ours, pairs, survey)
    assert table.colnames == ["pair_id", "component", "source_id", "Teff", "snr_g", "vlos"]
    assert list(table["pair_id"]) == [0, 0, 1, 1]
    assert list(table["component"]) == [1, 2, 1, 2]
    assert list(table["source_id"]) == [1, 2, 3, 4]
    assert list(table["Teff"]) == [5000.0, 5200.0, 5400.0, 5600.0]  # ours, not the survey's
    assert list(table["snr_g"]) == [10.0, 20.0, 30.0, 40.0]
    assert list(table["vlos"]) == [5.0, 4.0, 3.0, 2.0]
    # a star missing from the survey drops its pair too
    assert list(pair_table(ours, pairs, survey[survey["source_id"] != 3])["pair_id"]) == [0, 0]


def test_pair_table_errors_name_the_catalogue():
    ours, pairs, survey = _hand_pairs()
    for args, what in (((np.zeros(3), pairs, survey), "ours"),
                       ((ours, np.zeros(3), survey), "pairs"),
                       ((ours, pairs, np.zeros(3)), "survey")):  # fmt: skip
        with pytest.raises(TypeError, match=rf"^catalogue '{what}' must be an astropy Table"):
            pair_table(*args)
    ours.rename_column("source_id", "gaia_id")
    with pytest.raises(ValueError, match=r"^catalogue 'ours' has no column 'source_id'"):
        pair_table(ours, pairs, survey)
    ours.rename_column("gaia_id", "source_id")
    survey.rename_column("source_id", "gaia_id")
    with pytest.raises(ValueError, match=r"^catalogue 'survey' has no column 'source_id'"):
        pair_table(ours, pairs, survey)


def _cut_table(stars: list[dict], dvs: list[float]) -> Table:
    """Two rows per pair; star 2 of pair k moves at dv[k] relative to star 1."""
    rows = []
    for k, (star, dv) in enumerate(zip(stars, dvs, strict=True)):
        for comp in (1, 2):
            row = {"pair_id": k, "component": comp, "Teff": 5500.0, "logg": 4.4, "snr_g": 50.0,
                   "vlos": 0.0 if comp == 1 else -dv}  # fmt: skip
            row.update(star.get(comp, {}))
            rows.append(row)
    return Table(rows=rows)


def test_binary_cuts_at_the_papers_boundaries():
    """S/N > 40, 4500 < Teff < 7000 K, logg > 4 (strict, either star failing drops the pair),
    |ΔV_los| / mad < 3."""
    stars = [{}, {1: {"snr_g": 40.0}}, {2: {"snr_g": 40.01}}, {2: {"logg": 4.0}},
             {1: {"logg": 4.01}}, {1: {"Teff": 4500.0}}, {2: {"Teff": 4500.5}},
             {2: {"Teff": 7000.0}}, {1: {"Teff": 6999.5}}, {}, {},
             {2: {"snr_g": np.nan}}]  # fmt: skip
    dvs = [0.5] * 9 + [3.0, -2.99, 0.0]
    kept = binary_cuts(_cut_table(stars, dvs), mad=1.0)
    assert sorted(set(kept["pair_id"])) == [0, 2, 4, 6, 8, 10]
    assert list(kept["component"]) == [1, 2] * 6


def test_binary_cuts_mad_is_over_the_pairs_passing_the_star_cuts():
    # passing pairs: ΔV = 1, 2, 3, 10 -> median 2.5, |dev| 1.5 .5 .5 7.5 -> mad 1.0 (no 1.4826)
    stars = [{}, {}, {}, {}, {1: {"snr_g": 10.0}}, {2: {"logg": 3.0}}]
    kept = binary_cuts(_cut_table(stars, [1.0, 2.0, 3.0, 10.0, 100.0, 200.0]))
    assert sorted(set(kept["pair_id"])) == [0, 1]
    with pytest.raises(ValueError, match=r"^pairs table has no column 'snr_g'$"):
        binary_cuts(_cut_table(stars, [0.0] * 6)[["pair_id", "component", "Teff", "logg", "vlos"]])


# ------------------------------------------------------ the reports, on a hand-made calibration
def _hand_calibration():
    from phdl.calibrate import Calibration, TeffTrend, ZeroPoints

    mg = TeffTrend(0.1, -1.0, 2.0, p16=np.array([0.0, -1.4, 1.0]), p84=np.array([0.2, -0.4, 4.0]),
                   n_pairs=12, converged=True)  # fmt: skip
    xx = TeffTrend(0.0, 0.0, 0.5, n_pairs=5, converged=False)
    zero = ZeroPoints(reference={"Mg": 0.02, "Qq": 0.3}, source={"Mg": "GALAH DR3", "Qq": "none"},
                      n_twins={"Mg": 7, "Qq": 0}, d={"Mg": 0.05, "Qq": -0.1},
                      n_ours={"Mg": 9, "Qq": 3})  # fmt: skip
    return Calibration(teff={"Mg": mg, "Xx": xx}, zero=zero)


def test_table2_beside_paper_columns_and_values():
    from phdl.calibrate.teff_trend import REFERENCE_TEFF

    cal = _hand_calibration()
    t2 = table2_beside_paper(cal)
    assert t2.colnames == ["element", "a", "a_err", "b", "b_err", "c", "c_err", "d", "pairs",
                           "converged", "paper_a", "paper_b", "paper_c", "paper_d"]  # fmt: skip
    assert list(t2["element"]) == ["Mg", "Xx"]
    mg = t2[0]
    assert (mg["a"], mg["b"], mg["c"]) == (0.1, -1.0, 2.0)
    assert (mg["a_err"], mg["b_err"], mg["c_err"]) == pytest.approx((0.1, 0.5, 1.5))
    assert mg["d"] == pytest.approx(0.05 - cal.teff["Mg"](REFERENCE_TEFF))
    assert mg["pairs"] == 12 and bool(mg["converged"]) is True
    assert bool(t2["converged"][1]) is False and t2["pairs"][1] == 5
    paper_mg = paper.table2()[list(paper.table2()["element"]).index("Mg")]
    assert [mg[f"paper_{k}"] for k in "abcd"] == [paper_mg[k] for k in "abcd"]
    assert np.isnan(t2["d"][1])  # no zero point for Xx
    assert all(np.isnan(t2[f"paper_{k}"][1]) for k in "abcd")  # not in the paper
    cal.zero = None
    assert np.all(np.isnan(table2_beside_paper(cal)["d"]))


def test_table3_beside_paper_columns_and_values():
    cal = _hand_calibration()
    t3 = table3_beside_paper(cal)
    assert t3.colnames == ["element", "zero_point", "source", "n_twins", "d", "n_ours",
                           "paper_zero_point", "paper_source"]  # fmt: skip
    assert list(t3["element"]) == ["Mg", "Qq"]
    assert list(t3["zero_point"]) == [0.02, 0.3] and list(t3["source"]) == ["GALAH DR3", "none"]
    assert list(t3["n_twins"]) == [7, 0] and list(t3["n_ours"]) == [9, 3]
    assert list(t3["d"]) == [0.05, -0.1]
    paper_mg = paper.table3()[list(paper.table3()["element"]).index("Mg")]
    assert t3["paper_zero_point"][0] == paper_mg["zero_point"]
    assert t3["paper_source"][0] == paper_mg["source"]
    assert np.isnan(t3["paper_zero_point"][1]) and t3["paper_source"][1] == ""
    cal.zero = None
    with pytest.raises(ValueError, match=r"^the calibration has no zero points$"):
        table3_beside_paper(cal)
