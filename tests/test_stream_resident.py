"""indb.stream.resident's wire format for a batch's results: one message, every output's
Arrow stream after a JSON head (their lengths, how the query ran); what does not add up is the
function's error."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from indb.errors import FunctionError
from indb.stream.resident import RESULTS, _results, to_ipc


def message(lengths: object, data: bytes, **said: object) -> bytes:
    return json.dumps({"lengths": lengths, **said}).encode() + b"\n" + data


def test_results_of_several_outputs_read_back_from_one_message():
    first, second = pa.table({"a": [1, 2]}), pa.table({"b": ["x"]})
    streams = [to_ipc(first), to_ipc(second)]
    back = _results(message([len(streams[0]), None, len(streams[1])], b"".join(streams),
                            query="incremental", fell_back=True))
    assert back.outputs[0] == first and back.outputs[1] is None and back.outputs[2] == second
    assert (back.query, back.fell_back) == ("incremental", True)
    assert _results(message([], b"")).query is None  # no query: nothing said
    assert RESULTS == b"R"


@pytest.mark.parametrize("lengths, data", [
    ([10], b"short"),              # longer than what came
    ([-1], b""),                   # a length no stream has
    ({"a": 1}, b""),               # not a list
    ("[1, 2]", b""),               # a list, not the head (sent as a string of it)
    ("[1", b""),                   # not JSON (sent as a string of it)
])
def test_results_that_do_not_add_up_are_the_functions_error(lengths, data):
    body = (lengths.encode() + b"\n" + data) if isinstance(lengths, str) else message(lengths, data)
    with pytest.raises(FunctionError):
        _results(body)
