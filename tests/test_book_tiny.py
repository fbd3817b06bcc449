"""The whole book with the tiny profile, built once per session in a copy of the book's sources
(the ``tiny_book`` fixture of conftest.py; slow). tests/test_book_browser.py opens its pages.
"""

from __future__ import annotations

import pytest

from phdl.runner import repo_root

ROOT = repo_root()


@pytest.mark.slow
def test_build_book_tiny(tiny_book):
    root = tiny_book.root
    assert tiny_book.index == root / "_build" / "html" / "index.html"
    assert tiny_book.index.is_file()
    page = root / "_build" / "html" / "book" / "01_ab_initio_grid.html"
    assert page.is_file()
    html = page.read_text()
    assert html.count("<img") >= 5, "chapter 1 should render its figures"
    assert "Figure 2" in html and "Traceback" not in html
    for chapter in ("01_ab_initio_grid", "03_test_set_recovery", "05_correlation_matrix"):
        assert (root / "book" / f"{chapter}.ipynb").is_file()
    # the repository's own executed book is untouched
    assert {p: p.stat().st_mtime for p in (ROOT / "book").glob("*.ipynb")} == tiny_book.before
