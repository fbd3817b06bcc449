"""environment.yml (conda) and pyproject.toml (pip) must declare the same dependencies."""

from __future__ import annotations

import sys

import pytest
import yaml
from packaging.requirements import Requirement

from phdl.runner import repo_root

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = repo_root()


def _as_dict(lines: list[str]) -> dict[str, str]:
    """{normalized name: specifier} for requirement strings; a duplicate name is an error."""
    out: dict[str, str] = {}
    for line in lines:
        req = Requirement(line)
        name = req.name.lower().replace("_", "-")
        assert name not in out, f"{name} listed twice"
        out[name] = str(req.specifier)
    return out


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return _as_dict(project["dependencies"] + project["optional-dependencies"]["dev"])


def _conda_pip() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip: section"
    pip = pip_sections[0]
    assert "-e ." in pip, "environment.yml must install the package itself (-e .)"
    return _as_dict([p for p in pip if p != "-e ."])


def test_same_dependencies_and_specifiers():
    pyproject, conda = _pyproject(), _conda_pip()
    assert sorted(pyproject) == sorted(conda), (
        f"only in pyproject: {sorted(set(pyproject) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(pyproject))}"
    )
    drift = {n: (pyproject[n], conda[n]) for n in pyproject if pyproject[n] != conda[n]}
    assert not drift, f"specifiers differ (pyproject, environment.yml): {drift}"


def test_torch_pinned_in_both():
    assert _pyproject()["torch"] == "==2.13.0"
    assert _conda_pip()["torch"] == "==2.13.0"


def test_conda_python_and_pip():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    plain = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in plain and "pip" in plain


def test_makefile_installs_the_same_torch():
    makefile = (ROOT / "Makefile").read_text()
    assert "TORCH_VERSION := 2.13.0" in makefile
