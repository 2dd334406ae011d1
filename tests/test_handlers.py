"""The engine's handler table: every plan the planner can make has exactly one handler."""

import typing

from indb import planner
from indb.engine import HANDLERS
from indb.engine.handlers import HANDLERS as TABLE


def test_every_plan_type_has_a_handler_and_every_handler_a_plan_type():
    plan_types = set(typing.get_args(planner.Plan))
    assert plan_types == set(HANDLERS), (plan_types ^ set(HANDLERS))
    assert HANDLERS is TABLE


def test_handlers_live_in_the_module_of_their_statement_family():
    families = {"tables", "functions", "models", "queries", "upkeep", "environments", "privileges",
                "schemas", "procedures", "monitors", "subscriptions", "workers", "sequences", "alter",
                "indexes", "macros", "prepared", "named_types", "transfer", "variables",
                "transactions"}
    for plan_type, handler in HANDLERS.items():
        assert handler.__module__.rpartition(".")[2] in families, (plan_type, handler.__module__)
