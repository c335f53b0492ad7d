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
        if "defs" not in p.relative_to(PACKAGE).parts[:1]
        and p.name != "definitions.py"
        and p.relative_to(PACKAGE).as_posix() != "cli/runner.py"  # the in-process runner
    ],
    ids=str,
)
def test_only_the_dagster_layer_imports_dagster(path):
    assert not any(n == "dagster" or n.startswith("dagster.") for n in _imports(path))


def _ours_of(package: str) -> str:
    return f"comet_pipeline.{package}"


#: package -> packages of ours it must never import (ARCHITECTURE.md's rules)
FORBIDDEN = {
    "store": ("archive", "imaging", "ingest", "simulator", "hunting", "evaluation", "defs"),
    "archive": ("ingest", "defs", "store", "simulator", "hunting", "evaluation"),
    "imaging": ("ingest", "defs", "store", "simulator", "hunting", "evaluation", "archive.client"),
    "simulator": ("ingest", "defs", "store", "hunting", "evaluation"),
    "hunting": ("defs", "ingest", "evaluation", "simulator", "store", "archive"),
    "ingest": ("defs", "evaluation", "simulator"),
    "evaluation": ("defs", "ingest"),
    "defs": ("evaluation", "cli", "viewer"),
    "cli": (),  # the front doors: on top of everything
    "viewer": ("cli",),  # a front door beside cli: below it everything, cli never
}

#: The front doors and who may import them: cli starts the viewer (``serve``); nothing else
#: imports either.
FRONT_DOORS = {"cli": {"cli"}, "viewer": {"cli", "viewer"}}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=str)
def test_only_the_front_doors_import_the_front_doors(path):
    here = path.relative_to(PACKAGE).parts[0]
    bad = [
        n
        for door, importers in FRONT_DOORS.items()
        if here not in importers
        for n in _imports(path)
        if n == _ours_of(door) or n.startswith(_ours_of(door) + ".")
    ]
    assert not bad, f"{path.relative_to(PACKAGE)} must not import {bad}"


@pytest.mark.parametrize(
    ("package", "path"),
    [(pkg, p) for pkg in FORBIDDEN for p in _modules(pkg)],
    ids=lambda v: str(v).rsplit("comet_pipeline/", 1)[-1],
)
def test_imports_point_down_only(package, path):
    forbidden = tuple(_ours_of(f) for f in FORBIDDEN[package])
    bad = [n for n in _imports(path) if n.startswith(forbidden)]
    assert not bad, f"{package} must not import {bad}"


def test_every_package_has_rules():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - {"domain"} <= set(FORBIDDEN), packages - set(FORBIDDEN)


#: Where a store engine may be chosen: the front doors and the Dagster resource. Everything
#: else annotates the protocol, so a second engine changes nothing there.
ENGINE_CHOOSERS = {"cli", "defs/resources.py", "store"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=str)
def test_only_the_front_doors_name_a_store_engine(path):
    rel = path.relative_to(PACKAGE).as_posix()
    if rel in ENGINE_CHOOSERS or rel.split("/", 1)[0] in ENGINE_CHOOSERS:
        return
    source = path.read_text()
    assert "SQLiteStore" not in source and "comet_pipeline.store.sqlite" not in source, rel


@pytest.mark.parametrize("path", _modules("store"), ids=str)
def test_the_protocol_knows_no_engine(path):
    if "sqlite" in path.relative_to(PACKAGE).parts or path.name == "__init__.py":
        return
    assert not any(n.startswith("comet_pipeline.store.sqlite") for n in _imports(path))
