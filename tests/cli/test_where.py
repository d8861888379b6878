"""--where: a safe expression language over result rows, never eval."""

from __future__ import annotations

import pytest

from sweepstack.cli._where import Where
from sweepstack.errors import QueryError

ROW = {"error": 0.005, "estimator": "plain", "n": 100, "pairs": None, "opt.lr": 0.1, "ok": True}
COLUMNS = list(ROW)


@pytest.mark.parametrize(
    "expression, expected",
    [
        pytest.param("error < 0.01 and estimator == 'plain'", True, id="and"),
        pytest.param("error > 0.01 or n >= 100", True, id="or"),
        pytest.param("not ok", False, id="not"),
        pytest.param("estimator in ('plain', 'antithetic')", True, id="in-tuple"),
        pytest.param("estimator not in ['plain']", False, id="not-in-list"),
        pytest.param("50 < n <= 100", True, id="chained"),
        pytest.param("pairs is None", True, id="is-none"),
        pytest.param("n * 2 + 1 == 201", True, id="arithmetic"),
        pytest.param("abs(-error) == error and round(n / 3) == 33", True, id="functions"),
        pytest.param(
            "contains(estimator, 'lai') and startswith(lower(estimator), 'p')", True, id="text"
        ),
        pytest.param("opt.lr == 0.1", True, id="dotted-column"),
        pytest.param("-n < 0", True, id="negation"),
    ],
)
def test_expression_selects_rows(expression, expected):
    assert Where(expression, COLUMNS)(ROW) is expected


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("pairs < 1", id="none-compared"),
        pytest.param("estimator > 3", id="str-vs-int"),
        pytest.param("n / 0 > 1", id="division-by-zero"),
        pytest.param("estimator + 1 == 2", id="arithmetic-on-text"),
        pytest.param("n ** 100000 > 1", id="huge-power"),
    ],
)
def test_comparison_that_cannot_be_made_leaves_the_row_out(expression):
    assert Where(expression, COLUMNS)(ROW) is False


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("__import__('os').system('true')", id="import"),
        pytest.param("estimator.upper()", id="method-call"),
        pytest.param("(lambda: 1)()", id="lambda"),
        pytest.param("[x for x in 'ab']", id="comprehension"),
        pytest.param("estimator[0] == 'p'", id="subscript"),
        pytest.param("open('/etc/passwd')", id="open"),
        pytest.param("n if ok else 0", id="conditional"),
        pytest.param("(n := 3)", id="walrus"),
        pytest.param("round(n, ndigits=2)", id="keyword"),
        pytest.param("f'{n}' == '100'", id="f-string"),
        pytest.param("n = 3", id="statement"),
        pytest.param("error <", id="syntax"),
        pytest.param("(" * 500 + "1" + ")" * 500, id="nested-deeply"),
    ],
)
def test_anything_but_the_language_is_refused(expression):
    with pytest.raises(QueryError) as caught:
        Where(expression, COLUMNS)
    assert expression[:20] in str(caught.value) or "..." in str(caught.value)


def test_unknown_column_is_refused_with_a_suggestion():
    with pytest.raises(QueryError, match="unknown column 'eror' \\(did you mean 'error'\\?\\)"):
        Where("eror < 1", COLUMNS)


def test_without_known_columns_a_missing_column_is_none():
    assert Where("seed is None")(ROW) is True
