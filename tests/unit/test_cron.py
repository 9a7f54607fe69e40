"""When schedules fire: AWS cron in its own time zone (DST included), rate, at, years."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conveyor.errors import InvalidTiming
from conveyor.policy.cron import fire_times, to_croniter

PARIS = ZoneInfo("Europe/Paris")


def test_daily_cron_keeps_local_time_across_both_dst_changes():
    spring = fire_times(
        "cron(30 1 * * ? *)",
        "Europe/Paris",
        datetime(2027, 3, 26, 12, tzinfo=UTC),
        datetime(2027, 3, 30, 12, tzinfo=UTC),
    )
    assert [t.astimezone(PARIS).strftime("%m-%d %H:%M") for t in spring] == [
        "03-27 01:30",
        "03-28 01:30",
        "03-29 01:30",
        "03-30 01:30",
    ]
    assert [t.astimezone(UTC).hour for t in spring] == [0, 0, 23, 23]  # the UTC instant moves
    autumn = fire_times(
        "cron(0 9 ? * MON-FRI *)",
        "Europe/Paris",
        datetime(2027, 10, 29, tzinfo=UTC),
        datetime(2027, 11, 2, 12, tzinfo=UTC),
    )
    assert [t.astimezone(PARIS).strftime("%a %H:%M") for t in autumn] == [
        "Fri 09:00",
        "Mon 09:00",
        "Tue 09:00",
    ]


def test_every_boundary_fires_once_and_only_once_when_ticks_overlap():
    start = datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
    ticks = [start + timedelta(minutes=7 * i) for i in range(40)]
    fired = []
    for before, after in itertools.pairwise(ticks):
        fired += fire_times("cron(*/15 * * * ? *)", "Europe/Paris", before, after)
    assert len(fired) == len(set(fired)) == (ticks[-1] - start) // timedelta(minutes=15)
    assert all(t.astimezone(UTC).minute % 15 == 0 for t in fired)


def test_aws_day_of_week_numbers_are_one_based():
    assert to_croniter("cron(0 9 ? * 2-6 *)")[0] == "0 9 * * 1-5"
    assert to_croniter("cron(0 9 ? * 6#3 *)")[0] == "0 9 * * 5#3"  # third Friday
    third_friday = fire_times(
        "cron(0 9 ? * 6#3 *)",
        "UTC",
        datetime(2027, 3, 1, tzinfo=UTC),
        datetime(2027, 3, 31, tzinfo=UTC),
    )
    assert [t.date().isoformat() for t in third_friday] == ["2027-03-19"]


def test_year_field_filters():
    times = fire_times(
        "cron(0 0 1 1 ? 2028)",
        "UTC",
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2029, 2, 1, tzinfo=UTC),
    )
    assert [t.year for t in times] == [2028]


def test_rate_and_at():
    anchor = datetime(2027, 1, 1, tzinfo=UTC)
    times = fire_times(
        "rate(5 minutes)",
        "UTC",
        anchor + timedelta(minutes=7),
        anchor + timedelta(minutes=21),
        anchor=anchor,
    )
    assert [(t - anchor) // timedelta(minutes=1) for t in times] == [10, 15, 20]
    at = fire_times("at(2027-01-01T10:00:00)", "Europe/Paris", anchor, anchor + timedelta(days=1))
    assert at == [datetime(2027, 1, 1, 9, tzinfo=UTC)]


@pytest.mark.parametrize("expr", ["cron(0 9 15W * ? *)", "cron(0 9 ? * 5L *)", "every day"])
def test_what_cannot_be_evaluated_says_so(expr):
    with pytest.raises(InvalidTiming):
        fire_times(expr, "UTC", datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
