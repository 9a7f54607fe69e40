"""The look-ahead policy: how deep the dispatcher holds, whom it sidelines, and when it
extends the visibility of what it holds (pure; times passed in)."""

from __future__ import annotations

import random

import pytest

from conveyor.policy.lookahead import Lookahead, expired, to_extend


def test_a_lone_tenant_is_held_past_its_cap_but_sidelined_once_others_wait():
    look = Lookahead(per_tenant=3, total=10, base=1.0, cap=8.0)
    rng = random.Random(1)
    assert look.hide_for(5, 5, 1, rng, others_waiting=False) is None
    hide = look.hide_for(3, 5, 1, rng, others_waiting=True)
    assert hide is not None and 1.0 <= hide <= 1.5
    assert look.hide_for(2, 5, 1, rng, others_waiting=True) is None


def test_the_total_bound_sidelines_even_a_lone_tenant():
    look = Lookahead(per_tenant=3, total=10, base=1.0, cap=8.0)
    hide = look.hide_for(1, 10, 2, random.Random(1), others_waiting=False)
    assert hide is not None and 2.0 <= hide <= 3.0


def test_receive_room_is_bounded_by_the_lane_the_total_and_one_batch():
    look = Lookahead(per_tenant=5, total=50)
    assert look.room(0, 200, 0) == 10
    assert look.room(195, 200, 0) == 5
    assert look.room(0, 200, 47) == 3
    assert look.room(200, 200, 0) == 0
    assert look.room(0, 200, 60) == 0  # over the total (outbox backlog): no receive


def test_nothing_is_extended_while_each_has_over_a_third_of_its_visibility_left():
    assert to_extend([100.0, 130.0, 160.0], now=79.0, visibility=60) == []


def test_due_messages_are_extended_soonest_first_and_topped_up_to_a_whole_batch():
    now, v = 0.0, 60.0
    due = [5.0, 19.0, 3.0]  # under 20 s left
    soon = [float(21 + i) for i in range(12)]  # under 40 s left
    later = [55.0, 59.0]
    until = due + soon + later
    picked = to_extend(until, now, v)
    assert len(picked) == 10
    assert picked[:3] == [2, 0, 1]
    assert picked[3:] == list(range(3, 10))  # the next-soonest, in order
    assert not {15, 16} & set(picked)


def test_top_up_never_pulls_in_messages_with_over_two_thirds_left():
    picked = to_extend([10.0, 50.0, 45.0], now=0.0, visibility=60)
    assert picked == [0]


def test_expired_messages_are_neither_extended_nor_kept():
    until = [4.0, 10.0, 30.0]
    assert to_extend(until, now=5.0, visibility=60) == [1, 2]
    assert expired(until, now=5.0) == [0]


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError):
        Lookahead(per_tenant=10, total=5)
    with pytest.raises(ValueError):
        Lookahead(base=0)
    with pytest.raises(ValueError):
        to_extend([1.0], now=0.0, visibility=0)
