"""The shape of q's answer to a q-sql query (as the q-sql reference prints them)."""

from __future__ import annotations

import pytest

from indb.parser.qshapes import Shape, shape


@pytest.mark.parametrize("text, expected", [
    ("select from t", Shape("table")),
    ("select avg price by sym from t", Shape("keyed", 1)),
    ("select by sym, ex from t", Shape("keyed", 2)),
    ("2!t", Shape("keyed", 2)),
    ("exec price from t", Shape("list")),
    ("exec distinct sym from t", Shape("list")),
    ("exec max price from t", Shape("atom")),
    ("exec count i from t", Shape("atom")),
    ("exec a, b from t", Shape("dict")),
    ("exec n: a from t", Shape("dict")),
    ("exec from t", Shape("dict")),
    ("first t", Shape("dict")),
    ("last select from t", Shape("dict")),
    # exec ... by's four dictionaries, as the q-sql reference prints them (code.kx.com/q/ref/exec)
    ("exec price by sym from t", Shape("map", 1)),  # list!list
    ("exec sym!price from t", Shape("map")),
    ("exec a, b by sym from t", Shape("list_table", 1)),  # list!table
    ("exec q: sum qty by s from sp", Shape("list_table", 1)),
    ("exec sum qty by s: s from sp", Shape("table_list", 1)),  # table!list
    ("exec sum qty by s, p from sp", Shape("table_list", 2)),
    ("exec q: sum qty by s: s from sp", Shape("keyed", 1)),  # table!table
    ("exec a by 0b from t", Shape("table")),
    ("update x: 1 from t", Shape("table")),
    ("`sym xasc t", Shape("table")),
    ("select from", Shape("table")),  # what does not parse: its translation says why
])
def test_shapes(text, expected):
    assert shape(text) == expected
