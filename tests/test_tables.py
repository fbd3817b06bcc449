"""phdl.tables.show_table: a whole astropy Table as HTML."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from phdl.tables import show_table


def test_show_table_every_row_and_the_format():
    t = Table({"label": [f"x{i}" for i in range(200)], "σ": np.linspace(0, 1, 200)})
    t["σ"].format = ".3f"
    html = show_table(t)
    text = html.data
    assert text.count("<tr>") == 201  # the header and every row, none cut
    assert "x199" in text and "1.000" in text and "0.0050251" not in text
    assert html._repr_html_() == text
    with pytest.raises(TypeError, match="astropy Table"):
        show_table({"a": [1]})
