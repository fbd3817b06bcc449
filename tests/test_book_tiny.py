"""The whole book with the tiny profile, built in the real repository paths (slow)."""

from __future__ import annotations

import pytest

from phdl.runner import build_book, repo_root

ROOT = repo_root()


@pytest.mark.slow
def test_build_book_tiny():
    if not (ROOT / "notebooks" / "01_ab_initio_grid.ipynb").is_file():
        pytest.skip("notebooks/01_ab_initio_grid.ipynb is not written yet")
    index = build_book("tiny")
    assert index == ROOT / "_build" / "html" / "index.html"
    assert index.is_file()
    assert (ROOT / "_build" / "html" / "book" / "01_ab_initio_grid.html").is_file()
    assert (ROOT / "book" / "01_ab_initio_grid.ipynb").is_file()
