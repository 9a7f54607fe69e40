"""Pure pieces of the dispatcher: the lane picker and the visibility extension."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Future

from conveyor.model import PRIORITY_WEIGHTS
from conveyor.policy.picker import WeightedLanePicker
from conveyor.ports import InMessage
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.runtime.dispatcher import _Running
from tests.support import ledger


def test_picker_leads_in_proportion_and_never_starves_low():
    picker = WeightedLanePicker({"high": ["h"], "normal": ["n"], "low": ["l"]}, PRIORITY_WEIGHTS)
    leads = Counter(picker.order()[0] for _ in range(100))
    assert leads == {"h": 60, "n": 30, "l": 10}
    window = [picker.order()[0] for _ in range(10)]
    assert "l" in window  # low leads at least once in every window of 10


def test_picker_rotates_shards_of_a_class():
    picker = WeightedLanePicker({"high": ["h0", "h1"], "low": ["l0"]}, {"high": 1, "low": 1})
    firsts = [picker.order()[0] for _ in range(4)]
    assert sorted(firsts) == ["h0", "h1", "l0", "l0"]


def test_long_attempts_get_their_lane_message_extended():
    rt = memory_runtime(ledger.catalog)
    dispatcher = rt.dispatcher(lane_visibility=60)
    calls = []
    rt.lanes.change_visibility = lambda lane, receipt, seconds: calls.append((receipt, seconds))
    message = InMessage("m", "r-1", "{}", 1, 0)
    future: Future = Future()
    item = _Running(
        "lane", message, ledger.catalog.get("work"), future, extended_at=time.monotonic() - 31
    )
    dispatcher.running.append(item)
    dispatcher.collect()
    assert calls == [("r-1", 60)]
    dispatcher.collect()
    assert calls == [("r-1", 60)]  # not again before another 30 s
