"""The whole book with the tiny profile, built in a copy of the book's sources (slow).

The copy keeps ``make test`` from replacing a user's executed quick-profile book in ``book/``
and ``_build/`` with the tiny one.
"""

from __future__ import annotations

import shutil

import pytest

from phdl.runner import build_book, repo_root

ROOT = repo_root()
SOURCES = ("_config.yml", "_toc.yml", "notebooks", "phdl/data/profiles", "book")


@pytest.mark.slow
def test_build_book_tiny(tmp_path):
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():  # book/: its pages, not the executed notebooks of an earlier build
            skip = shutil.ignore_patterns("*.ipynb") if name == "book" else None
            shutil.copytree(src, tmp_path / name, ignore=skip)  # parents made as needed
        else:
            shutil.copy(src, tmp_path / name)
    before = {p: p.stat().st_mtime for p in (ROOT / "book").glob("*.ipynb")}
    index = build_book("tiny", root=tmp_path)
    assert index == tmp_path / "_build" / "html" / "index.html"
    assert index.is_file()
    page = tmp_path / "_build" / "html" / "book" / "01_ab_initio_grid.html"
    assert page.is_file()
    html = page.read_text()
    assert html.count("<img") >= 5, "chapter 1 should render its figures"
    assert "Figure 2" in html and "Traceback" not in html
    for chapter in ("01_ab_initio_grid", "03_test_set_recovery", "05_correlation_matrix"):
        assert (tmp_path / "book" / f"{chapter}.ipynb").is_file()
    # the repository's own executed book is untouched
    assert {p: p.stat().st_mtime for p in (ROOT / "book").glob("*.ipynb")} == before
