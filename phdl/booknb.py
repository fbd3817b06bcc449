"""Tidy an executed chapter notebook for the book: what a reader sees, not what the kernel sent.

Papermill stores every message the kernel sent, so a tqdm bar leaves one stream output per update
(chapter 2 of the quick book had ~2,400 boxes) and a chapter shows its parameters twice: the
notebook's own cell tagged ``parameters``, then papermill's ``injected-parameters`` cell.
:func:`tidy_notebook` fixes both; :func:`tidy_file` does it to a file in place (the runner calls it
after papermill succeeds).

- :func:`merge_streams`: consecutive stream outputs of one name (stdout, stderr) become one, and
  each line overwritten by carriage returns keeps its last state, as a terminal would show it; a
  stream left with nothing but whitespace is dropped.
- :func:`hide_original_parameters`: the ``parameters`` cell gets the ``remove-cell`` tag (Jupyter
  Book / myst-nb then leave it out of the page) when papermill injected the values actually used.

The module is also a Sphinx extension (``_config.yml``: ``sphinx: extra_extensions``) for one
fault the browser test found on every page: Sphinx 7 lists an inline script added before the
build as two assets (filename ``None``, then ``''``), so sphinx-thebe's ``const THEBE_JS_URL``
is declared twice and the page logs a SyntaxError; :func:`drop_duplicate_scripts` keeps the first.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from phdl.atomic import atomic_path

REMOVE_TAG = "remove-cell"


def resolve_carriage_returns(text: str) -> str:
    """``text`` as a terminal shows it: each ``\\r`` returns to the line's start and overwrites.

    ``"a 10%\\ra 50%\\ra 100%\\n"`` -> ``"a 100%\\n"``; a longer earlier state shows through past
    the end of a shorter later one, as on a terminal (tqdm pads with spaces, so its bars come out
    clean). Trailing spaces are dropped from every line.
    """
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        shown = ""
        for segment in line.split("\r"):
            shown = segment + shown[len(segment) :]
        lines.append(shown.rstrip(" "))
    return "\n".join(lines)


def _coalesce(outputs: list) -> list:
    """Copies of ``outputs`` with each run of consecutive streams of one name joined into one."""
    joined: list = []
    for out in outputs:
        last = joined[-1] if joined else None
        if (
            out.get("output_type") == "stream"
            and last is not None
            and last.get("output_type") == "stream"
            and last["name"] == out["name"]
        ):
            last["text"] += out["text"]
        else:
            joined.append(nbformat.from_dict(dict(out)))
    return joined


def merge_streams(outputs: list) -> list:
    """The outputs with consecutive streams of one name merged and their progress lines resolved.

    A stream left blank (tqdm's closing newline, flushed after a print) is dropped, and the
    streams it separated are joined. Other outputs (figures, tables, errors) keep their order.
    """
    kept = []
    for out in _coalesce(outputs):
        if out.get("output_type") == "stream":
            out["text"] = resolve_carriage_returns(out["text"])
            if not out["text"].strip():
                continue
        kept.append(out)
    return _coalesce(kept)


def hide_original_parameters(nb) -> int:
    """Tag the ``parameters`` cells ``remove-cell`` when an ``injected-parameters`` cell follows.

    Returns the number of cells tagged. Without injected parameters the notebook's own cell holds
    the values used, so it stays.
    """
    tags_of = [cell.get("metadata", {}).get("tags", []) for cell in nb.cells]
    if not any("injected-parameters" in tags for tags in tags_of):
        return 0
    count = 0
    for cell, tags in zip(nb.cells, tags_of, strict=True):
        if "parameters" in tags and REMOVE_TAG not in tags:
            cell.setdefault("metadata", {})["tags"] = [*tags, REMOVE_TAG]
            count += 1
    return count


def tidy_notebook(nb):
    """Merge stream outputs and hide the superseded parameters cell; returns ``nb`` (changed)."""
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and cell.get("outputs"):
            cell["outputs"] = merge_streams(cell["outputs"])
    hide_original_parameters(nb)
    return nb


def tidy_file(path: str | Path) -> Path:
    """Tidy the notebook at ``path`` in place (written to a temporary name, then renamed)."""
    path = Path(path)
    nb = tidy_notebook(nbformat.read(path, as_version=4))
    with atomic_path(path) as tmp:
        nbformat.write(nb, tmp)
    return path


def _script_key(script) -> tuple:
    """What makes two of Sphinx's script assets the same script (``None`` and ``''`` alike)."""
    attributes = getattr(script, "attributes", {})
    return (
        getattr(script, "filename", script) or "",
        getattr(script, "priority", None),
        tuple(sorted(attributes.items())),
    )


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Sphinx ``html-page-context`` handler: each script of the page once, first place kept."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app) -> dict:
    """Sphinx entry point (``extra_extensions: [phdl.booknb]``)."""
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)  # after myst-nb's
    return {"parallel_read_safe": True, "parallel_write_safe": True}
