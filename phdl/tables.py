"""Tables in the book: an astropy Table shown whole, as HTML, in a notebook."""

from __future__ import annotations

from typing import Any

from astropy.table import Table


def show_table(table: Table) -> Any:
    """``table`` as an :class:`IPython.display.HTML` object with every row and column (no
    truncation), each column in its ``format``; the last expression of a cell displays it."""
    from IPython.display import HTML

    if not isinstance(table, Table):
        raise TypeError(f"show_table takes an astropy Table, got {type(table).__name__}")
    return HTML("\n".join(table.pformat(max_lines=-1, max_width=-1, html=True)))
