"""The whole book with the tiny profile, built in the real repository paths (slow)."""

from __future__ import annotations

import pytest

from phdl.runner import build_book, repo_root

ROOT = repo_root()


@pytest.mark.slow
def test_build_book_tiny():
    index = build_book("tiny")
    assert index == ROOT / "_build" / "html" / "index.html"
    assert index.is_file()
    page = ROOT / "_build" / "html" / "book" / "01_ab_initio_grid.html"
    assert page.is_file()
    html = page.read_text()
    assert html.count("<img") >= 5, "chapter 1 should render its figures"
    assert "Figure 2" in html and "Traceback" not in html
    assert (ROOT / "book" / "01_ab_initio_grid.ipynb").is_file()
