import pytest

from conveyor.errors import InvalidTiming
from conveyor.policy.expressions import validate_expression


@pytest.mark.parametrize(
    "expr",
    [
        "cron(0 2 * * ? *)",
        "cron(0/15 8-17 ? * MON-FRI *)",
        "cron(0 9 L * ? *)",
        "cron(0 9 ? * 6#3 *)",
        "cron(30 1 15W JAN,JUL ? 2027)",
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(2 days)",
    ],
)
def test_valid_expressions(expr):
    assert validate_expression(expr) == expr


@pytest.mark.parametrize(
    "expr",
    [
        "cron(0 2 * * *)",
        "cron(0 2 * * * *)",
        "cron(0 2 ? * ? *)",
        "cron(60 2 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 2 32 * ? *)",
        "cron(0 2 ? * 8 *)",
        "cron(0 2 ? FOO * *)",
        "cron(0 2 * * ? 1969)",
        "cron(*/0 2 * * ? *)",
        "rate(0 minutes)",
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(5 weeks)",
        "every 5 minutes",
        "",
        "at(2030-01-01T00:00:00)",
        42,
    ],
)
def test_invalid_expressions_raise_typed_errors(expr):
    with pytest.raises(InvalidTiming):
        validate_expression(expr)
