import pytest

from conveyor.policy.scaling import ScalingRule, plan


def test_zero_to_n_and_back_to_zero():
    rule = ScalingRule(max_workers=4)
    backlog = [0, 1, 3, 5, 19, 20, 150, 600, 40, 4, 1, 0]
    assert plan(rule, [(b, 0.0) for b in backlog]) == [0, 1, 1, 2, 2, 4, 4, 4, 4, 1, 1, 0]


def test_old_work_adds_one_step_but_never_past_the_cap():
    rule = ScalingRule(max_workers=16)
    assert rule.desired(3, oldest_age=0) == 1
    assert rule.desired(3, oldest_age=301) == 2
    assert rule.desired(10_000, oldest_age=10_000) == 16
    assert rule.desired(0, oldest_age=10_000) == 0


def test_monotone_in_backlog():
    rule = ScalingRule(max_workers=10)
    counts = [rule.desired(b) for b in range(0, 1000)]
    assert counts == sorted(counts)


def test_table_is_what_the_cdk_step_policy_takes():
    assert ScalingRule(max_workers=4).table() == [
        (1, 5, 1),
        (5, 20, 2),
        (20, 100, 4),
        (100, 500, 4),
        (500, None, 4),
    ]


def test_bad_rules_are_refused():
    with pytest.raises(ValueError):
        ScalingRule(max_workers=0)
    with pytest.raises(ValueError):
        ScalingRule(max_workers=2, steps=((5, 1), (1, 2)))
