"""phdl.paper: the paper's numbers and Tables 1-4, checked against the paper's text.

The paper (``phdlspec.txt``, its text as extracted from the PDF) and its cleaned reading
(``FACTS.md``) are not part of the repository; the tests that read them look in
``$PHDL_PAPER_DIR`` or ``../shared/paper`` beside the checkout, and are skipped where neither
exists. The tests of the shipped CSV files always run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from phdl import paper
from phdl.labels import ELEMENTS, GROUP_I, GROUP_II, RANGES
from phdl.runner import repo_root

PAPER_DIR = Path(os.environ.get("PHDL_PAPER_DIR", repo_root().parent / "shared" / "paper"))


def _text(name: str) -> str:
    path = PAPER_DIR / name
    if not path.is_file():
        pytest.skip(f"the paper's text {path} is not here")
    return path.read_text()


def _flat(text: str) -> str:
    """The text with line breaks and hyphenation at line ends removed."""
    return " ".join(re.sub(r"-\n", "-", text).split())


def test_headline_numbers_are_the_papers():
    text = _flat(_text("phdlspec.txt"))
    s = paper.RECOVERY_SIGMA
    assert f"{s['Teff']:.2f} K in T" in text  # "28.03 K in Teff, 0.11 dex in logg, ..."
    assert f"{s['logg']:.2f} dex in logg, {s['[Fe/H]']:.2f} dex in [Fe/H]" in text
    e = paper.EMULATION_SIGMA
    assert f"dispersion is around {100 * e['all']:.2f}%" in text
    assert f"decreases to {100 * e['Teff > 4500 K']:.2f}%" in text
    assert f"dispersion of {100 * e['example star']:.1f}%" in text
    assert f"test set of {paper.TEST_SPECTRA} spectra" in text
    assert f"library of {paper.GRID_SPECTRA:,} ab initio" in text
    assert f"for {paper.CATALOG_STARS:,} subgiants" in text
    assert f"identified {paper.CATALOG_PARENT:,} subgiants" in text
    star = paper.EXAMPLE_STAR
    assert f"= {star['Teff']:.0f}K, logg = {star['logg']:.2f}" in text.replace("log g", "logg")


def test_facts_say_the_same():
    facts = _flat(_text("FACTS.md"))
    s = paper.RECOVERY_SIGMA
    assert f"σ = {s['Teff']:.2f} K (Teff), {s['logg']:.2f} dex (logg)" in facts
    assert f"{100 * paper.EMULATION_SIGMA['all']:.2f} % (all pixels)" in facts
    assert f"{paper.TEST_SPECTRA} test spectra" in facts


def test_recovery_bands_as_quoted():
    text = _flat(_text("phdlspec.txt"))
    start = text.index("smaller than 0.1 dex for")
    passage = text[start : text.index("remaining elements", start)]
    first, second = passage.split("0.1-0.2 dex for")
    for name, band in paper.RECOVERY_BANDS.items():
        if band == (0.0, 0.1):
            assert name in first, name
        elif band == (0.1, 0.2):
            assert name in second and name not in first, name
        else:
            assert name not in passage, name


def test_flag_fractions_as_quoted():
    text = _flat(_text("phdlspec.txt"))
    passage = text[text.index("high-quality flags") : text.index("Overall, these statistics")]
    q = paper.GOOD_FLAGS_QUOTED
    for el in ("Mg", "Sc", "Ti", "Cr", "Mn", "Co", "Ni", "Sr", "Ba"):
        assert q[f"[{el}/Fe]"] == "~0.99", el
        assert f"{el}," in passage or f"and {el})" in passage, el
    assert {q[f"[{el}/Fe]"] for el in ("Y", "Sm", "Pr")} == {"0.82-0.85"}
    assert "82-85%" in passage and "60%-~ 70%" in passage


def _facts_table(facts: str, header: str) -> list[list[str]]:
    block = facts[facts.index(header) :]
    rows = []
    for line in block.splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] not in ("el", "---", "[X/Fe]"):
            rows.append(cells)
    return rows


def test_tables_load_with_their_columns_and_rows():
    t1, t2, t3 = paper.table1(), paper.table2(), paper.table3()
    assert t1.colnames == ["element", "min", "max"] and list(t1["element"]) == list(ELEMENTS)
    assert t2.colnames == ["element", "a", "b", "c", "d"]
    assert t3.colnames == ["element", "zero_point", "source"]
    assert list(t2["element"]) == list(t3["element"]) == list(paper.CATALOG_ELEMENTS)
    assert set(t3["source"]) == {"Hypatia", "GALAH DR3", "none"}
    for t in (t1, t2, t3):
        for col in t.colnames[1:]:
            if col != "source":
                assert t[col].dtype.kind == "f" and np.isfinite(t[col]).all(), col


def test_table1_is_the_grids_ranges():
    for row in paper.table1():
        assert RANGES[f"[{row['element']}/Fe]"] == (row["min"], row["max"])
    assert RANGES["Teff"] == paper.TEFF_RANGE and RANGES["[Fe/H]"] == paper.FEH_RANGE


def test_tables_2_and_3_match_the_facts():
    facts = _text("FACTS.md")
    rows = _facts_table(facts, "| el | a | b | c | d |")
    t2 = paper.table2()
    assert [r[0] for r in rows] == list(t2["element"])
    for r, row in zip(rows, t2, strict=True):
        assert [float(x) for x in r[1:]] == [row[c] for c in "abcd"], r
    line = _flat(facts[facts.index("Table 3 (absolute") :].split("\n\n")[0])
    for row in paper.table3():
        code = {"Hypatia": "H", "GALAH DR3": "G", "none": "(none)"}[row["source"]]
        assert f"{row['element']} {row['zero_point']:.2f} {code}" in line.replace("-0.00", "0.00")


def test_catalogue_elements_are_the_fitted_ones():
    fitted = [n[1:-4] for n in GROUP_I + GROUP_II if n.endswith("/Fe]")]
    assert sorted(fitted) == sorted(paper.CATALOG_ELEMENTS) and len(fitted) == 25
    names = paper.table4_names()
    assert names[:5] == ["RA", "DEC", "SOURCEID", "SPECID", "UQFLAG"]
    assert "[Mg/Fe]_flag" in names and "[Eu/Fe]_uncali" in names and "Chisq" in names
    assert len(names) == 12 + 4 * 25


def test_quotes_carry_the_numbers():
    assert "0.77 %" in paper.emulation_quote() and "623" in paper.emulation_quote()
    assert "28.03 K" in paper.recovery_quote() and "S/N 100" in paper.recovery_quote()
    assert paper.example_star_text() == "Teff 5930 K, logg 4.48, [Fe/H] 0.00"
