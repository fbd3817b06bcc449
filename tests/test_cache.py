"""Tests of phdl.cache: chapter declarations, cache keys, and which chapters the runner reruns.

The toy book has two chapters: ``01_a`` writes ``n`` to ``runs/toy/a.txt`` (its ``note`` changes
nothing in the file); ``02_b`` reads that file, shows an image and writes ``runs/toy/b.txt``.
Each appends its name to ``log.txt`` when it executes, so a test sees what ran.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from phdl import cache as cache_mod
from phdl.cache import ChapterCache, Ingredients, check_declarations, explain, load_declarations
from phdl.runner import ChapterError, load_profile, repo_root, run_chapters

ROOT = repo_root()
A_BODY = (
    "from pathlib import Path\n"
    "Path(out_path).parent.mkdir(parents=True, exist_ok=True)\n"
    "Path(out_path).write_text(str(n))\n"
    "open('log.txt', 'a').write('01_a\\n')"
)
B_BODY = (
    "from pathlib import Path\n"
    "from IPython.display import display\n"
    "assert k >= 0, 'k must be >= 0'\n"
    "Path(out_path).write_text(Path(in_path).read_text() * k)\n"
    "display({'image/png': 'iVBORw0KGgo='}, raw=True)\n"
    "open('log.txt', 'a').write('02_b\\n')"
)
PROFILE = {
    "profile": "toy",
    "chapters": {
        "01_a": {"n": 1, "note": "", "out_path": "runs/toy/a.txt"},
        "02_b": {"k": 2, "in_path": "runs/toy/a.txt", "out_path": "runs/toy/b.txt"},
    },
}
DECLARED = {
    "01_a": {"needs": [], "produces": ["out_path"]},
    "02_b": {"needs": ["in_path"], "produces": ["out_path"]},
}


def _notebook(root: Path, name: str, params: str, body: str) -> None:
    nb = new_notebook(
        cells=[
            new_markdown_cell(f"# {name}"),
            new_code_cell(f"profile = 'x'\n{params}", metadata={"tags": ["parameters"]}),
            new_code_cell(body),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")


def _set(root: Path, chapter: str, **params: object) -> None:
    """Change parameters of a chapter in the toy profile."""
    path = root / "phdl" / "data" / "profiles" / "toy.yml"
    profile = yaml.safe_load(path.read_text())
    profile["chapters"][chapter].update(params)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The toy book; the code hash is pinned (an edit to phdl while the tests run reruns all)."""
    monkeypatch.setattr(cache_mod, "code_hash", lambda: "c" * 64)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "phdl" / "data" / "profiles").mkdir(parents=True)
    _notebook(tmp_path, "01_a", "n = 0\nnote = ''\nout_path = ''", A_BODY)
    _notebook(tmp_path, "02_b", "k = 1\nin_path = ''\nout_path = ''", B_BODY)
    (tmp_path / "phdl" / "data" / "profiles" / "toy.yml").write_text(yaml.safe_dump(PROFILE))
    (tmp_path / "phdl" / "data" / "chapters.yml").write_text(yaml.safe_dump(DECLARED))
    return tmp_path


def _run(root: Path, **kwargs: object) -> list[str]:
    """Run the toy book; return the chapters that executed, in order."""
    log = root / "log.txt"
    log.unlink(missing_ok=True)
    outputs = run_chapters("toy", root=root, **kwargs)
    assert outputs == [root / "book" / "01_a.ipynb", root / "book" / "02_b.ipynb"]
    return log.read_text().split() if log.exists() else []


# --- what reruns -----------------------------------------------------------------------------


def test_second_run_executes_nothing(root, capsys):
    assert _run(root) == ["01_a", "02_b"]
    capsys.readouterr()
    assert _run(root) == []
    out = capsys.readouterr().out
    assert "01_a: unchanged (inputs, parameters, code), skipped" in out
    assert "02_b: unchanged (inputs, parameters, code), skipped" in out
    record = json.loads((root / "runs" / "toy" / ".cache.json").read_text())
    assert set(record["chapters"]) == {"01_a", "02_b"}


def test_changed_parameter_reruns_only_its_chapter(root, capsys):
    _run(root)
    _set(root, "02_b", k=3)
    assert _run(root) == ["02_b"]
    assert "running, parameters changed: k" in capsys.readouterr().out
    assert (root / "runs" / "toy" / "b.txt").read_text() == "111"


def test_upstream_parameter_reruns_downstream_only_when_its_output_changes(root, capsys):
    _run(root)
    _set(root, "01_a", note="same file")  # 01_a reruns but writes the same a.txt
    assert _run(root) == ["01_a"]
    _set(root, "01_a", n=5)  # a.txt changes: 02_b needs it
    assert _run(root) == ["01_a", "02_b"]
    assert "02_b (profile toy): running, input runs/toy/a.txt changed" in capsys.readouterr().out


def test_changed_notebook_reruns_it(root, capsys):
    _run(root)
    path = root / "notebooks" / "02_b.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_markdown_cell("One more sentence."))
    nbformat.write(nb, path)
    assert _run(root) == ["02_b"]
    assert "running, notebook changed" in capsys.readouterr().out


def test_force_reruns_everything(root, capsys):
    _run(root)
    assert _run(root, force=True) == ["01_a", "02_b"]
    assert "running, forced" in capsys.readouterr().out


def test_changed_code_reruns_everything(root, monkeypatch):
    _run(root)
    monkeypatch.setattr(cache_mod, "code_hash", lambda: "0" * 64)
    assert _run(root) == ["01_a", "02_b"]


def test_deleted_or_edited_output_reruns_its_chapter(root):
    _run(root)
    (root / "runs" / "toy" / "a.txt").unlink()
    assert _run(root) == ["01_a"]  # the same content comes back: 02_b stays
    (root / "runs" / "toy" / "b.txt").write_text("edited by hand")
    assert _run(root) == ["02_b"]
    (root / "book" / "02_b.ipynb").unlink()
    assert _run(root) == ["02_b"]


def test_failed_chapter_is_not_recorded(root):
    _run(root)
    _set(root, "02_b", k=-1)
    with pytest.raises(ChapterError, match="k must be"):
        run_chapters("toy", root=root)
    record = json.loads((root / "runs" / "toy" / ".cache.json").read_text())
    assert set(record["chapters"]) == {"01_a"}
    _set(root, "02_b", k=2)
    assert _run(root) == ["02_b"]


def test_undeclared_chapter_always_runs(root, capsys):
    (root / "phdl" / "data" / "chapters.yml").write_text(yaml.safe_dump({"01_a": DECLARED["01_a"]}))
    _run(root)
    assert _run(root) == ["02_b"]
    assert "02_b (profile toy): running, not declared" in capsys.readouterr().out


def test_figures_name_their_inputs(root):
    _run(root)
    nb = nbformat.read(root / "book" / "02_b.ipynb", as_version=4)
    notes = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/html" in o.get("data", {})
    ]
    assert len(notes) == 1
    text = notes[0]["data"]["text/plain"]
    digest = hashlib.sha256(b"1").hexdigest()[:12]
    assert text.startswith("Made by notebooks/02_b.ipynb (sha256 ")
    assert f"inputs: runs/toy/a.txt (sha256 {digest})" in text
    assert "k=2" in text and "profile='toy'" in text


def test_corrupt_cache_file_reruns_and_is_rewritten(root):
    _run(root)
    (root / "runs" / "toy" / ".cache.json").write_text("{not json")
    assert _run(root) == ["01_a", "02_b"]
    assert json.loads((root / "runs" / "toy" / ".cache.json").read_text())["format"] == 1


# --- declarations and keys, without running anything ----------------------------------------


@pytest.mark.parametrize("name", ["tiny", "quick", "full"])
def test_book_declarations_match_every_profile(name):
    declared = load_declarations(ROOT)
    chapters = load_profile(name)["chapters"]
    assert set(declared) == set(chapters)  # every chapter is declared, so it can be skipped
    check_declarations(declared, chapters)
    made = [p for c in declared.values() for p in c["produces"]]
    assert all(n.endswith("_path") for n in made), made
    assert declared["01_ab_initio_grid"]["produces"] == ["grid_path"]
    assert "grid_path" in declared["02_grid_training"]["needs"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("01_a: [out_path]", "may only have"),
        ("01_a: {makes: [out_path]}", "may only have"),
        ("01_a: {needs: out_path}", "list of parameter names"),
        ("- 01_a", "expected a mapping"),
    ],
)
def test_malformed_declaration(root, text, message):
    (root / "phdl" / "data" / "chapters.yml").write_text(text)
    with pytest.raises(ValueError, match=message):
        load_declarations(root)


def test_declared_name_must_be_a_path_parameter():
    chapters = {"01_a": {"n": 1, "out_path": "runs/toy/a.txt"}}
    with pytest.raises(ValueError, match="'grid_path', which is not one of its parameters"):
        check_declarations({"01_a": {"needs": ["grid_path"], "produces": []}}, chapters)
    with pytest.raises(ValueError, match="not a path"):
        check_declarations({"01_a": {"needs": ["n"], "produces": []}}, chapters)


def test_key_covers_every_ingredient():
    base = Ingredients("nb", {"seed": 1, "profile": "toy"}, {"a.txt": "h1"}, "code")
    variants = [
        Ingredients("nb2", base.parameters, base.inputs, base.code),
        Ingredients(base.notebook, {"seed": 2, "profile": "toy"}, base.inputs, base.code),
        Ingredients(base.notebook, base.parameters, {"a.txt": "h2"}, base.code),
        Ingredients(base.notebook, base.parameters, {"a.txt": None}, base.code),
        Ingredients(base.notebook, base.parameters, base.inputs, "code2"),
    ]
    keys = {base.key, *(v.key for v in variants)}
    assert len(keys) == 6 and all(len(k) == 64 for k in keys)
    record = {"notebook": "nb0", "parameters": {"seed": 2, "profile": "toy"}, "code": "code2"}
    assert explain({**record, "inputs": {"b.txt": "h"}}, base) == (
        "notebook changed; parameters changed: seed; input a.txt changed; input b.txt changed; "
        "phdl code changed"
    )


def test_unchanged_file_is_not_hashed_again(root, monkeypatch):
    (root / "big.bin").write_bytes(b"x" * 1000)
    cache = ChapterCache(root, "toy", PROFILE["chapters"])
    digest = cache.file_hash("big.bin")
    assert digest == hashlib.sha256(b"x" * 1000).hexdigest()
    assert cache.file_hash("missing.bin") is None
    cache.save()
    calls = []
    real = cache_mod.sha256_file
    monkeypatch.setattr(cache_mod, "sha256_file", lambda p: calls.append(p) or real(p))
    again = ChapterCache(root, "toy", PROFILE["chapters"])
    assert again.file_hash("big.bin") == digest and calls == []
    (root / "big.bin").write_bytes(b"y" * 1000)  # same size, new content
    assert again.file_hash("big.bin") == hashlib.sha256(b"y" * 1000).hexdigest()
    assert len(calls) == 1


def test_code_hash_follows_the_sources(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "m.py").write_text("x = 1\n")
    (tmp_path / "data" / "lines.csv").write_text("a,b\n")
    (tmp_path / "data" / "p.yml").write_text("seed: 1\n")
    first = cache_mod.code_hash(tmp_path)
    (tmp_path / "data" / "p.yml").write_text("seed: 2\n")  # parameters are not code
    assert cache_mod.code_hash(tmp_path) == first
    (tmp_path / "data" / "lines.csv").write_text("a,c\n")
    assert cache_mod.code_hash(tmp_path) != first


def test_cli_book_force(monkeypatch, capsys, tmp_path):
    from phdl import cli, runner

    calls = []
    monkeypatch.setattr(
        runner, "build_book", lambda p, force=False: calls.append((p, force)) or tmp_path
    )
    assert cli.main(["book", "--profile", "tiny", "--force"]) == 0
    assert cli.main(["book", "--profile", "tiny"]) == 0
    assert calls == [("tiny", True), ("tiny", False)]
    assert capsys.readouterr().out.split() == [str(tmp_path)] * 2
