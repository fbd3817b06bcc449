"""Tests of phdl.runner: profiles, the table of contents, and chapter execution with papermill."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from phdl.runner import ChapterError, available_profiles, load_profile, repo_root, run_chapters

ROOT = repo_root()
PROSE_PAGES = [
    "book/intro",
    "book/reproduce",
    "book/paper_map",
    "book/real_data",
    "book/teaching",
    "book/catalog",
]
PROFILES = ["tiny", "quick", "full"]


def test_repo_root_holds_config():
    assert (ROOT / "_config.yml").is_file()
    assert (ROOT / "_toc.yml").is_file()


def test_profiles_present():
    assert set(PROFILES) <= set(available_profiles())


def test_unknown_profile_lists_available():
    with pytest.raises(ValueError) as info:
        load_profile("no_such_profile")
    message = str(info.value)
    assert "no_such_profile" in message
    for name in PROFILES:
        assert name in message


def test_profile_chapter_without_notebook(tmp_path):
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "p.yml"
    path.write_text("profile: p\nchapters:\n  99_missing: {seed: 1}\n")
    with pytest.raises(FileNotFoundError, match="99_missing"):
        load_profile(str(path), root=tmp_path)


@pytest.mark.parametrize("name", PROFILES)
def test_profile_files_are_consistent(name):
    """Each profile names itself, writes under runs/<profile>/, and has the same chapters."""
    raw = yaml.safe_load((ROOT / "phdl" / "data" / "profiles" / f"{name}.yml").read_text())
    assert raw["profile"] == name
    quick = yaml.safe_load((ROOT / "phdl" / "data" / "profiles" / "quick.yml").read_text())
    assert list(raw["chapters"]) == list(quick["chapters"])
    for params in raw["chapters"].values():
        for key, value in params.items():
            if key.endswith("_path") and value:
                assert value.startswith(f"runs/{name}/"), (key, value)
    n = raw["chapters"]["01_ab_initio_grid"]["n_spectra"]
    # tiny: seconds per chapter; quick: >= 300 spectra; full: the paper's 6,222
    assert {"tiny": n <= 24, "quick": n >= 300, "full": n == 6222}[name], (name, n)


def _parameter_names(notebook: Path) -> set[str]:
    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{notebook.name}: expected one cell tagged 'parameters'"
    names: set[str] = set()
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


@pytest.mark.parametrize("name", PROFILES)
def test_profile_parameters_match_notebooks(name):
    raw = yaml.safe_load((ROOT / "phdl" / "data" / "profiles" / f"{name}.yml").read_text())
    missing = [c for c in raw["chapters"] if not (ROOT / "notebooks" / f"{c}.ipynb").is_file()]
    assert not missing, f"profile {name} lists chapters without a notebook: {missing}"
    profile = load_profile(name)
    for chapter, params in profile["chapters"].items():
        names = _parameter_names(ROOT / "notebooks" / f"{chapter}.ipynb")
        assert "profile" in names, chapter
        assert set(params) <= names, (chapter, set(params) - names)


def test_toc_matches_quick_profile_and_pages_exist():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["format"] == "jb-book"
    entries = [toc["root"]] + [c["file"] for c in toc["chapters"]]
    quick = yaml.safe_load((ROOT / "phdl" / "data" / "profiles" / "quick.yml").read_text())
    assert entries == PROSE_PAGES + [f"book/{c}" for c in quick["chapters"]]
    for page in PROSE_PAGES:
        assert (ROOT / f"{page}.md").is_file(), page


# --- execution with toy notebooks in a temporary root -------------------------------------------


def _toy_root(tmp_path: Path, body: str) -> Path:
    """A minimal book root with one chapter 01_toy whose second cell is ``body``."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "phdl" / "data" / "profiles").mkdir(parents=True)
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Toy"),
            new_code_cell("profile = 'x'\nn = 1", metadata={"tags": ["parameters"]}),
            new_code_cell(body),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "notebooks" / "01_toy.ipynb")
    (tmp_path / "phdl" / "data" / "profiles" / "toy.yml").write_text(
        "profile: toy\nchapters:\n  01_toy:\n    n: 7\n"
    )
    return tmp_path


def test_failing_chapter_raises_and_leaves_no_output(tmp_path):
    root = _toy_root(tmp_path, 'raise ValueError("boom")')
    (root / "book").mkdir()
    (root / "book" / "01_toy.ipynb").write_text("{}")  # a stale result from an earlier run
    with pytest.raises(ChapterError) as info:
        run_chapters("toy", root=root)
    message = str(info.value)
    assert "boom" in message and "ValueError" in message
    assert "01_toy" in message
    assert info.value.chapter == "01_toy"
    assert list((root / "book").iterdir()) == []
    assert (root / "runs" / "toy" / "failed" / "01_toy.ipynb").is_file()


def test_passing_chapter_is_executed_with_parameters(tmp_path):
    root = _toy_root(tmp_path, "import os\nprint('n is', n, 'profile', profile, 'in', os.getcwd())")
    outputs = run_chapters("toy", root=root)
    assert outputs == [root / "book" / "01_toy.ipynb"]
    nb = nbformat.read(outputs[0], as_version=4)
    text = "".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )
    assert f"n is 7 profile toy in {root.resolve()}" in text
    assert [p.name for p in (root / "book").iterdir()] == ["01_toy.ipynb"]


def test_unknown_chapter_selection(tmp_path):
    root = _toy_root(tmp_path, "pass")
    with pytest.raises(ValueError, match="02_nope"):
        run_chapters("toy", root=root, chapters=["02_nope"])


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=str)
def test_papermill_parses_every_parameter(notebook):
    """papermill must read each parameter (a comment holding '=' or ';' breaks its parser,
    and the parameter is then silently not overridable)."""
    import papermill as pm

    parsed = set(pm.inspect_notebook(str(notebook)))
    assert parsed == _parameter_names(notebook), notebook.name
