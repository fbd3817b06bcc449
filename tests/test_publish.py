"""The online book: the Makefile's publish step puts the built HTML on a gh-pages branch (slow).

``make gh-pages`` (the second half of ``make publish``) runs on the tiny book of the session in
a temporary git repository (``GIT_DIR``), so the real repository's branches are untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from phdl.runner import repo_root

ROOT = repo_root()


def _git(*args: str, git_dir: Path | None = None) -> str:
    env = {**os.environ, "GIT_DIR": str(git_dir)} if git_dir else None
    return subprocess.run(
        ["git", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def _refs() -> str:
    return _git("for-each-ref", "--format=%(refname) %(objectname)")


@pytest.mark.slow
def test_publish_puts_every_page_on_gh_pages(tiny_book, tmp_path):
    venv = Path(sys.executable).parent
    assert (venv / "ghp-import").is_file(), f"no ghp-import in {venv}: pip install -e '.[dev]'"
    site = tmp_path / "site.git"
    subprocess.run(["git", "init", "-q", "--bare", str(site)], check=True)
    env = {
        **os.environ,
        "GIT_DIR": str(site),
        "GIT_COMMITTER_NAME": "phdl test",
        "GIT_COMMITTER_EMAIL": "test@phdl.invalid",
    }
    before = _refs()
    result = subprocess.run(
        ["make", "-s", "gh-pages", f"HTML={tiny_book.html}", f"VENV={venv.parent}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _refs() == before, "the real repository's branches changed"

    files = set(_git("ls-tree", "-r", "--name-only", "gh-pages", git_dir=site).splitlines())
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]] + [entry["file"] for entry in toc["chapters"]]
    expected = {"index.html", ".nojekyll", "_static/custom.css"} | {f"{p}.html" for p in pages}
    assert expected <= files, f"missing on gh-pages: {sorted(expected - files)}"
    assert len([f for f in files if f.startswith("_images/")]) >= 5, "the figures are published"
    message = _git("log", "-1", "--format=%s", "gh-pages", git_dir=site)
    assert message.startswith("Book (")
