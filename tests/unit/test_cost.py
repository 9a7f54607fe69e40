from conveyor.cost import PRICES, dollars, idle_monthly, per_million


def test_prices_and_dollars():
    assert PRICES["sqs_requests"] * 1e6 == 0.40
    assert dollars({"ddb_wru": 2_000_000, "sqs_requests": 1_000_000}) == 1.25 + 0.40
    assert per_million({"events": 10}, 10) == 1.00


def test_idle_cost_of_the_example_deployment():
    assert round(idle_monthly(alarm_metrics=24), 2) == 5.40
    assert round(idle_monthly(alarm_metrics=24, dispatcher_always_on=True), 2) == 14.29
