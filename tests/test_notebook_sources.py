"""The chapters' source notebooks: every table a cell builds reaches the page.

:func:`phdl.tables.show_table` returns an HTML object, which Jupyter shows only when it is the
last expression of a cell; anywhere else (mid-cell, inside an ``if`` or a loop) the table is
silently lost from the book. This happened in chapters 06-09 once, so it is checked here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _code(cell) -> str:
    """A cell's source without IPython magics (``%matplotlib inline``)."""
    return "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))


def lost_tables(source: str) -> list[int]:
    """Line numbers of ``show_table(...)`` expression statements that are not the cell's last
    top-level statement (so their table is never displayed)."""
    tree = ast.parse(source)
    last = tree.body[-1] if tree.body else None
    lost = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "show_table"
            and node is not last
        ):
            lost.append(node.lineno)
    return lost


def test_the_check_finds_a_lost_table():
    assert lost_tables("show_table(t)\nx = 1") == [1]
    assert lost_tables("if ok:\n    show_table(t)") == [2]
    assert lost_tables("for t in ts:\n    display(show_table(t))") == []
    assert lost_tables("x = 1\nshow_table(t)") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_table_is_displayed(path):
    nb = nbformat.read(path, as_version=4)
    bad = [
        (i, line)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for line in lost_tables(_code(cell))
    ]
    assert not bad, f"{path.name}: show_table results never displayed at (cell, line) {bad}"
