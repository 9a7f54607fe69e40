"""The AIMD window: grows only when backlogged and not app-limited, shrinks only when
throttles pass both thresholds, once per congestion event, within its bounds."""

from __future__ import annotations

import pytest

from conveyor.policy.aimd import AimdSpec, AimdWindow


def _window(**kw) -> AimdWindow:
    spec = {
        "initial": 10,
        "minimum": 2,
        "maximum": 20,
        "slow_start": False,
        "pause": 0.0,
        "cooldown": 0.0,
    }
    spec.update(kw)
    return AimdWindow(AimdSpec(**spec))


def test_grows_about_one_per_window_of_successes_while_backlogged():
    w = _window()
    for i in range(10):
        w.on_outcome(i * 0.1, throttled=False, in_flight=9, backlogged=True)
    assert 10.9 <= w.window <= 11.0
    assert w.limit == 10 or w.limit == 11


def test_no_growth_when_idle_or_app_limited():
    w = _window()
    for i in range(100):
        w.on_outcome(i, throttled=False, in_flight=9, backlogged=False)
        w.on_outcome(i, throttled=False, in_flight=2, backlogged=True)  # 3 < 10 / 2
    assert w.window == 10


def test_a_few_throttles_among_many_calls_do_not_shrink_the_window():
    w = _window(min_throttles=3, throttle_ratio=0.05, period=10)
    t = 0.0
    for _ in range(200):  # 200 successes in the period
        t += 0.01
        w.on_outcome(t, throttled=False, in_flight=0, backlogged=False)
    for _ in range(5):  # 5 throttles: count passed, ratio 5/205 < 5% not
        t += 0.01
        w.on_outcome(t, throttled=True, in_flight=0, backlogged=False)
    assert w.window == 10
    for _ in range(6):  # 11/211 > 5%: both passed
        t += 0.01
        w.on_outcome(t, throttled=True, in_flight=0, backlogged=False)
    assert w.window == pytest.approx(9.0)
    assert [c.why for c in w.changes] == ["throttled"]


def test_a_high_ratio_below_the_count_does_not_shrink_it():
    w = _window(min_throttles=3, throttle_ratio=0.01)
    w.on_outcome(0.0, throttled=True, in_flight=0, backlogged=True)
    w.on_outcome(0.1, throttled=True, in_flight=0, backlogged=True)  # 100% but 2 < 3
    assert w.window == 10


def test_one_congestion_event_shrinks_once_and_never_below_minimum():
    w = _window(min_throttles=2, throttle_ratio=0.0)
    # ten calls all started at t=0 come back throttled after the first decrease
    for i in range(10):
        w.on_outcome(1.0 + i * 0.001, throttled=True, in_flight=0, backlogged=True, started=0.0)
    assert w.window == pytest.approx(9.0)
    for i in range(200):  # fresh calls keep being throttled: shrink to the floor
        w.on_outcome(2.0 + i, throttled=True, in_flight=0, backlogged=True, started=2.0 + i)
    assert w.window == 2


def test_maximum_bounds_growth_and_a_throttle_pauses_new_calls():
    w = _window(maximum=12, pause=0.5, max_pause=4.0)
    for i in range(500):
        w.on_outcome(i * 0.01, throttled=False, in_flight=11, backlogged=True)
    assert w.window == 12
    w.on_outcome(10.0, throttled=True, in_flight=0, backlogged=True)
    assert not w.admits(0, 10.2)
    assert w.admits(0, 10.5)
    w.on_outcome(10.5, throttled=True, in_flight=0, backlogged=True)  # second in a row
    assert not w.admits(0, 11.4)
    assert w.admits(0, 11.5)


def test_slow_start_after_an_outage_regrows_fast_to_below_where_it_began():
    w = _window(slow_start=True, min_throttles=2, throttle_ratio=0.0, maximum=100, initial=40)
    w.slow = False
    t = 0.0
    for _ in range(80):  # an outage: every call refused, the window collapses
        t += 0.5
        w.on_outcome(t, throttled=True, in_flight=0, backlogged=True, started=t)
    assert w.window == 2
    for _ in range(60):  # recovered
        t += 0.01
        w.on_outcome(t, throttled=False, in_flight=int(w.window), backlogged=True)
    assert w.window >= 0.9 * 40 * 0.9 - 1  # back near where it was within 60 calls
    assert not w.slow


@pytest.mark.parametrize(
    "kw", [{"initial": 0.5}, {"decrease": 1.0}, {"minimum": 5, "initial": 4}, {"pause": 3.0}]
)
def test_bad_specs_are_refused(kw):
    with pytest.raises(ValueError):
        AimdSpec(**kw)
