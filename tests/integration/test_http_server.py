"""The dev cloud's HTTP submit API answers every request with JSON, as the deployed one
does: bad bytes, bad lengths, bad JSON, bad fields, wrong types and methods, oversized and
stalled bodies, crashes, and 50 clients at once."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import socket
import threading
import time

import pytest

from conveyor.client import Conveyor
from conveyor.local.http_server import BACKLOG, serve
from conveyor.runtime.http_api import handle

TYPE = "/tasks/send_welcome_email"


@pytest.fixture
def sdk(example_catalog):
    return Conveyor.in_memory(example_catalog)


@pytest.fixture
def server(sdk):
    srv, _ = serve(sdk, timeout=0.5)
    yield srv
    srv.shutdown()
    srv.server_close()


def request(server, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


def post_json(server, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return request(server, "POST", TYPE, data, {"content-type": content_type})


def raw(server, data: bytes, *, wait: float = 5.0) -> bytes:
    """Send raw bytes; return everything the server answers until it closes or stalls."""
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=wait) as sock:
        sock.sendall(data)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except TimeoutError:
            pass
        return out


def status_and_json(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"payload": "\xff\xfe"}', "InvalidOption"),
        (b"[" * 100_000 + b"]" * 100_000, "InvalidOption"),
        (b'{"payload": ' + b"[" * 500 + b"]" * 500 + b"}", "InvalidPayload"),
        (b'{"payload": {}, "delay_seconds": 1e300}', "InvalidTiming"),
        (b'{"payload": {}, "delay_seconds": 1e400}', "InvalidTiming"),
        (b'{"payload": {}, "delay_seconds": ' + b"9" * 400 + b"}", "InvalidTiming"),
        (b'{"payload": {}, "ttl_seconds": ' + b"9" * 400 + b"}", "InvalidTiming"),
        (b'{"payload": {}, "tags": 5}', "InvalidOption"),
        (b'{"payload": {}, "tags": "abc"}', "InvalidOption"),
        (b'{"payload": {}, "tags": ["\\ud800"]}', "InvalidOption"),
        (b'{"payload": "\\udc00"}', "InvalidPayload"),
        (b'{"payload": {}, "id": "job-1\\n"}', "InvalidTaskId"),
        (b'{"payload": {}, "tenant": ["a"]}', "InvalidTenant"),
        (b'{"payload": {}, "priority": {"a": 1}}', "InvalidPriority"),
        (b"not json", "InvalidOption"),
        (b"[1, 2]", "InvalidOption"),
    ],
)
def test_bad_bodies_get_a_json_400_and_nothing_is_written(server, sdk, body, error):
    status, _, answer = post_json(server, body)
    assert (status, answer["error"]) == (400, error), answer
    assert sdk.store.records == {}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_typed_gets_415(server, sdk, content_type):
    headers = {"content-type": content_type} if content_type else {}
    status, _, answer = request(server, "POST", TYPE, b'{"payload": {}}', headers)
    assert (status, answer["error"]) == (415, "UnsupportedMediaType")
    assert sdk.store.records == {}


def test_json_with_a_charset_is_accepted(server):
    status, _, answer = post_json(server, {"payload": {}}, "application/json; charset=utf-8")
    assert (status, answer["status"]) == (202, "created")


@pytest.mark.parametrize("method", ["PATCH", "PUT", "OPTIONS", "TRACE"])
def test_other_methods_get_a_json_405_with_allow(server, method):
    status, headers, answer = request(server, method, "/tasks/x")
    assert (status, answer["error"]) == (405, "MethodNotAllowed")
    assert headers["allow"] == "GET, POST, DELETE"


def test_a_non_numeric_content_length_gets_a_json_400(server):
    answer = raw(server, b"POST " + TYPE.encode() + b" HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}")
    assert status_and_json(answer)[0] == 400


def test_an_oversized_body_is_refused_from_its_length_before_it_is_read(server):
    head = b"POST " + TYPE.encode() + b" HTTP/1.1\r\ncontent-type: application/json\r\n"
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
        sock.sendall(head + b"Content-Length: 100000000\r\n\r\n" + b"x" * 1000)
        response = http.client.HTTPResponse(sock)  # answered while 99.99 MB are unsent
        response.begin()
        status, body = response.status, json.loads(response.read())
    assert (status, body["error"]) == (413, "PayloadTooLarge")
    assert "100,000,000" in body["message"]


def test_an_oversized_body_that_is_sent_anyway_still_gets_its_answer(sdk):
    srv, _ = serve(sdk, max_body=1024)
    try:
        status, _, body = post_json(srv, {"payload": {"x": "y" * 4 * 1024 * 1024}})
    finally:
        srv.shutdown()
        srv.server_close()
    assert (status, body["error"]) == (413, "PayloadTooLarge")


def test_a_stalled_body_times_out_with_408_and_a_stalled_head_is_dropped(server):
    head = b"POST " + TYPE.encode() + b" HTTP/1.1\r\ncontent-type: application/json\r\n"
    started = time.monotonic()
    answer = raw(server, head + b"Content-Length: 100\r\n\r\n{")
    status, body = status_and_json(answer)
    assert (status, body["error"]) == (408, "RequestTimeout")
    assert raw(server, head) == b""  # closed by the server, not by our 5 s wait
    assert time.monotonic() - started < 5


def test_an_unexpected_error_is_a_json_500_with_a_logged_request_id(server, sdk, caplog):
    def broken(task_id):
        raise RuntimeError("disk on fire")

    sdk.get = broken
    with caplog.at_level(logging.ERROR, logger="conveyor.http"):
        status, _, body = request(server, "GET", "/tasks/abc")
    assert (status, body["error"]) == (500, "InternalError")
    assert body["request_id"] in caplog.text
    assert "disk on fire" in caplog.text
    assert "disk on fire" not in body["message"]


def test_fifty_concurrent_clients_are_all_answered(server):
    assert server.request_queue_size == BACKLOG >= 128
    start = threading.Barrier(50)
    results: list[int] = []

    def one(i: int) -> None:
        start.wait(timeout=10)
        results.append(post_json(server, {"payload": {}, "id": f"c-{i}"})[0])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [202] * 50


def _event(body: bytes, *, encoded: bool) -> dict:
    return {
        "version": "2.0",
        "rawPath": TYPE,
        "headers": {"content-type": "application/json"},
        "body": base64.b64encode(body).decode() if encoded else body.decode(),
        "isBase64Encoded": encoded,
        "requestContext": {"http": {"method": "POST"}, "requestId": "r-1"},
    }


def test_the_lambda_mapping_reads_base64_bodies_and_rejects_non_utf8(sdk):
    ok = handle(_event(b'{"payload": {}, "id": "b64"}', encoded=True), sdk)
    assert ok["statusCode"] == 202
    bad = handle(_event(b'{"payload": "\xff"}', encoded=True), sdk)
    assert (bad["statusCode"], json.loads(bad["body"])["error"]) == (400, "InvalidOption")


def test_aws_throttling_after_retries_is_a_503_with_retry_after(sdk):
    class Throttled(Exception):
        response = {"Error": {"Code": "ThrottlingException"}}

    def throttled(*args, **kwargs):
        raise Throttled()

    sdk.submit = throttled
    answer = handle(_event(b'{"payload": {}}', encoded=False), sdk)
    assert answer["statusCode"] == 503
    assert answer["headers"]["retry-after"] == "1"
