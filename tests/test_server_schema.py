"""Schemathesis against ``indb serve``'s OpenAPI document: every operation, fuzzed from its
declared parameters and bodies, with and without a token, answers no 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from indb.remote import ARROW_STREAM
from serving import served_with_analyst

EXAMPLES = 25  # cases an operation and mode; the whole file stays well under a minute
SIGN_IN = "POST /v1/session"  # the web page's sign-in with a password (indb/server/web.py)

schemathesis.serializer.alias(ARROW_STREAM, "application/octet-stream")  # /v1/load's body: bytes


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """A served database with users (so every request needs a token) and ann's token."""
    server, token = served_with_analyst(tmp_path_factory.mktemp("fuzzed") / "db")
    yield server, token
    server.stop()


@pytest.fixture(scope="module")
def operations(fuzzed):
    """Every operation of the served OpenAPI document (schemathesis's pytest loader is not used:
    its lazy fixture does not work with this pytest)."""
    server, _ = fuzzed
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 6  # health, sql, load and the three of runs
    return found


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
def test_no_operation_answers_a_server_error(fuzzed, operations, mode):
    """Valid requests (positive) and ones that break the document (negative), each sent with
    ann's token and without one (generating a case costs more than sending it): never a 5xx, and
    every answer is the body the document declares for its status."""
    server, token = fuzzed
    statuses: dict[bool, set[int]] = {True: set(), False: set()}  # by whether the token was sent
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def fuzz(case) -> None:
            for signed_in in (True, False):
                headers = {"Authorization": f"Bearer {token}"} if signed_in else None
                response = case.call(base_url=server.url, headers=headers, timeout=60)
                if operation.label != SIGN_IN:  # a wrong password is a 401, token or not
                    statuses[signed_in].add(response.status_code)
                case.validate_response(response, checks=[not_a_server_error,
                                                         response_schema_conformance])

        try:
            fuzz()
        except Unsatisfiable:  # nothing of the operation can be made invalid (no parameters)
            assert mode is GenerationMode.NEGATIVE
    for signed_in, seen in statuses.items():
        assert seen and max(seen) < 500
        assert (401 in seen) != signed_in  # the token was sent, or was missed


STATEMENTS = ["SELECT ? AS v", "SELECT x FROM open_t WHERE x = ?", "SELECT ?, ? AS w",
              "SELECT $a AS a", "SELECT x + ? FROM open_t", "SELECT * FROM open_t LIMIT ?"]


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
def test_fuzzed_parameters_of_real_statements_get_no_server_error(fuzzed, operations, mode):
    """The document's parameters (any JSON: lists, objects, typed values) bound to statements
    that parse, so the fuzzing reaches the binding rather than the parser."""
    server, token = fuzzed
    sql = next(op for op in operations if op.label == "POST /v1/sql")
    statuses: set[int] = set()

    @given(case=sql.as_strategy(generation_mode=mode), statement=st.sampled_from(STATEMENTS))
    @settings(max_examples=4 * EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def fuzz(case, statement: str) -> None:
        if isinstance(case.body, dict):
            case.body["sql"] = statement
        response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                             timeout=60)
        statuses.add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    fuzz()
    assert max(statuses) < 500 and (200 in statuses or mode is GenerationMode.NEGATIVE)
