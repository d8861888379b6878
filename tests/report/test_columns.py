"""sort_rows: any mix of cell values sorts, the same rows always in the same order."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from sweepstack.report._columns import _order_key, sort_rows

cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.lists(st.integers(0, 3), max_size=2),
)
rows_ = st.lists(
    st.fixed_dictionaries({"a": cells, "b": cells}, optional={"c": cells}),
    max_size=30,
    # the columns in one order in every row, as the records of one sweep have them
).map(
    lambda rows: [
        {"key": f"{i:04d}", **{c: row[c] for c in ("a", "b", "c") if c in row}}
        for i, row in enumerate(rows)
    ]
)


def _keys(row, columns):
    return tuple(_order_key(row.get(c)) for c in columns)


@given(rows_)
def test_default_order_is_by_the_columns_in_table_order_then_key(rows):
    ordered = sort_rows(list(rows))
    assert sorted(r["key"] for r in ordered) == [r["key"] for r in rows]
    keys = [_keys(r, ["a", "b", "c", "key"]) for r in ordered]
    assert keys == sorted(keys)


@given(rows_, st.randoms(use_true_random=False))
def test_order_does_not_depend_on_the_order_rows_are_read_in(rows, rnd: random.Random):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert [r["key"] for r in sort_rows(shuffled)] == [r["key"] for r in sort_rows(list(rows))]


@given(rows_)
def test_descending_then_ascending_columns(rows):
    ordered = sort_rows(list(rows), [("b", True), ("a", False)])
    for first, second in zip(ordered, ordered[1:]):
        b1, b2 = _order_key(first.get("b")), _order_key(second.get("b"))
        assert b1 >= b2
        if b1 == b2:
            assert _keys(first, ["a", "key"]) <= _keys(second, ["a", "key"])
