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


@pytest.mark.parametrize("text", ["job-1\n", "job-1\r\n", "\njob-1", "job\n1"])
def test_a_task_id_with_a_newline_is_rejected(text):
    from conveyor.errors import InvalidTaskId

    with pytest.raises(InvalidTaskId):
        validate_task_id(text)


@pytest.mark.parametrize("text", ["acme\n", "acme\r\n", "ac\nme"])
def test_a_tenant_with_a_newline_is_rejected(text):
    from conveyor.errors import InvalidTenant
    from conveyor.ids import validate_tenant

    with pytest.raises(InvalidTenant):
        validate_tenant(text)
