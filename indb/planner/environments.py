"""Plans for function environments: CREATE/ALTER/DROP/DESCRIBE/SHOW FUNCTION ENVIRONMENT.

An ALTER is planned whole here: the requirements the new generation is built from are the
environment's exact ``pip freeze`` as it stands (the record the plan was made against), with the
packages named by INSTALL taking the place of their pins, or those named by UNINSTALL left out.
Package requirements are checked with ``packaging`` (PEP 508) before pip ever sees them, so no
pip option (``--index-url ...``) can be slipped in as a package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from sqlglot import exp

from indb.errors import CatalogError, not_found
from indb.parser import error_at
from indb.parser.environments import (AlterFunctionEnvironment, CreateFunctionEnvironment,
                                      DescribeFunctionEnvironment, DropFunctionEnvironment,
                                      ShowFunctionEnvironment)
from indb.planner.tables import CatalogFacts, new_name

if TYPE_CHECKING:
    from indb.registry.environments import EnvironmentInfo


@dataclass(frozen=True)
class CreateEnvironment:
    name: str
    replace: bool


@dataclass(frozen=True)
class AlterEnvironment:
    """A new generation of ``environment`` built from ``requirements``; ``requested`` is what
    the user has asked for so far (INSTALL's requirements, as written)."""

    environment: EnvironmentInfo
    action: str                        # INSTALL | UNINSTALL
    packages: tuple[str, ...]          # what the statement named
    requirements: tuple[str, ...]
    requested: tuple[str, ...]


@dataclass(frozen=True)
class DropEnvironment:
    name: str
    if_exists: bool


@dataclass(frozen=True)
class DescribeEnvironment:
    name: str | None  # None: every environment


@dataclass(frozen=True)
class ShowEnvironment:
    name: str | None  # None: every environment
    listing: bool     # SHOW FUNCTION ENVIRONMENTS: one row each, not their DDL


def plan_create(tree: CreateFunctionEnvironment, catalog: CatalogFacts) -> CreateEnvironment:
    name = new_name(tree.this, "function environment")
    replace = bool(tree.args.get("replace"))
    if not replace and catalog.environment(name) is not None:
        raise CatalogError(f"function environment {name} already exists; use CREATE OR REPLACE "
                           f"FUNCTION ENVIRONMENT, or DROP FUNCTION ENVIRONMENT {name} first")
    return CreateEnvironment(name, replace)


def plan_alter(tree: AlterFunctionEnvironment, catalog: CatalogFacts) -> AlterEnvironment:
    environment = _existing(tree.this, catalog)
    action = tree.args["action"].name
    given = [(node, spec) for node in tree.expressions for spec in node.name.split()]
    if not given:
        raise error_at(tree.this, f"{action} PYTHON PACKAGE names no package")
    wanted = [_requirement(node, spec, action) for node, spec in given]
    names = {canonicalize_name(r.name) for r in wanted}
    if action == "UNINSTALL":
        held = {_name_of(line) for line in environment.frozen}
        for (node, spec), requirement in zip(given, wanted, strict=True):
            if canonicalize_name(requirement.name) not in held:
                raise error_at(node, f"function environment {environment.name} holds no package "
                                     f"{spec}; DESCRIBE FUNCTION ENVIRONMENT {environment.name} "
                                     "lists what it holds")
    kept = tuple(line for line in environment.frozen if _name_of(line) not in names)
    requested = tuple(spec for spec in environment.requested if _name_of(spec) not in names)
    added = tuple(spec for _, spec in given) if action == "INSTALL" else ()
    return AlterEnvironment(environment, action, tuple(spec for _, spec in given), kept + added,
                            requested + added)


def plan_drop(tree: DropFunctionEnvironment, catalog: CatalogFacts) -> DropEnvironment:
    name = tree.this.name.lower()
    if not tree.args.get("exists") and catalog.environment(name) is None:
        raise not_found("function environment", name)
    return DropEnvironment(name, bool(tree.args.get("exists")))


def plan_describe(tree: DescribeFunctionEnvironment, catalog: CatalogFacts) -> DescribeEnvironment:
    return DescribeEnvironment(None if isinstance(tree.this, exp.Star) else _existing(tree.this, catalog).name)


def plan_show(tree: ShowFunctionEnvironment, catalog: CatalogFacts) -> ShowEnvironment:
    name = None if isinstance(tree.this, exp.Star) else _existing(tree.this, catalog).name
    return ShowEnvironment(name, bool(tree.args.get("listing")))


def _existing(node: exp.Expr, catalog: CatalogFacts) -> EnvironmentInfo:
    environment = catalog.environment(node.name.lower())
    if environment is None:
        raise not_found("function environment", node.name.lower())
    return environment


def _requirement(node: exp.Expr, spec: str, action: str) -> Requirement:
    """A package requirement as PEP 508 writes it; UNINSTALL takes bare names."""
    try:
        if spec.startswith("-"):
            raise InvalidRequirement("pip options are not packages")
        requirement = Requirement(spec)
    except InvalidRequirement as error:
        raise error_at(node, f"{spec!r} is not a package requirement ({error}); write "
                             "'name', 'name==1.2' or 'name>=1.2', apart by spaces") from None
    if action == "UNINSTALL" and str(requirement) != requirement.name:
        raise error_at(node, f"UNINSTALL PYTHON PACKAGE takes package names, not {spec!r}; "
                             f"write '{requirement.name}'")
    return requirement


def _name_of(line: str) -> str:
    """The canonical package name of a requirement or ``pip freeze`` line ('' if it names none)."""
    try:
        return canonicalize_name(Requirement(line).name)
    except InvalidRequirement:
        return ""
