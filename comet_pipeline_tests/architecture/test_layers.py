"""The layer rules of ARCHITECTURE.md, checked on the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "comet_pipeline"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(sub: str) -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py"))


def _ours(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith("comet_pipeline")}


@pytest.mark.parametrize("path", _modules("domain"), ids=str)
def test_domain_imports_nothing_of_ours_but_itself(path):
    assert {n for n in _ours(_imports(path)) if not n.startswith("comet_pipeline.domain")} == set()


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in PACKAGE.rglob("*.py")
        if "defs" not in p.relative_to(PACKAGE).parts[:1] and p.name != "definitions.py"
    ],
    ids=str,
)
def test_only_the_dagster_layer_imports_dagster(path):
    assert not any(n == "dagster" or n.startswith("dagster.") for n in _imports(path))


@pytest.mark.parametrize("path", _modules("store"), ids=str)
def test_store_never_imports_archive_or_imaging(path):
    forbidden = ("comet_pipeline.archive", "comet_pipeline.imaging", "comet_pipeline.ingest")
    assert not [n for n in _imports(path) if n.startswith(forbidden)]


@pytest.mark.parametrize("path", _modules("imaging") + _modules("archive"), ids=str)
def test_infrastructure_does_not_reach_up(path):
    forbidden = ("comet_pipeline.ingest", "comet_pipeline.defs", "comet_pipeline.store")
    assert not [n for n in _imports(path) if n.startswith(forbidden)]
