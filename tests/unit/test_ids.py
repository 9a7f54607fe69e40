import pytest

from conveyor.ids import new_task_id, validate_task_id


def test_ulid_layout_and_order():
    a = new_task_id(1_800_000_000_000, bytes(10))
    b = new_task_id(1_800_000_000_001, bytes(10))
    assert len(a) == 26
    assert a < b
    assert a == "01MCC5RM00" + "0" * 16
    assert new_task_id(0, b"\xff" * 10) == "0000000000ZZZZZZZZZZZZZZZZ"
    assert validate_task_id(new_task_id())
    # Known answer (checked against the ULID spec's encoding): time 0x017F21CFD8FD.
    assert new_task_id(0x017F21CFD8FD, bytes(10)) == "01FWGWZP7X" + "0" * 16


def test_bad_entropy_or_time():
    with pytest.raises(ValueError):
        new_task_id(0, b"short")
    with pytest.raises(ValueError):
        new_task_id(-1)
