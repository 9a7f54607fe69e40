"""Payloads are native JSON, nothing else (never pickle).

``encode`` checks a value strictly (dict with string keys, list, str, int, float, bool,
None; no NaN/Infinity; no tuples, sets, bytes, datetimes or Decimals) and returns its
canonical UTF-8 JSON bytes (sorted keys, no spaces), so that the SHA-256 of the bytes
identifies the payload for dedup whatever the key order the producer used.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from .errors import InvalidPayload

#: Payloads up to this many bytes travel inside the lane message (SQS max is 256 KiB,
#: leaving room for the envelope). Larger ones go to S3 by reference.
INLINE_LIMIT = 192 * 1024
#: Absolute maximum payload size in bytes; larger raises PayloadTooLarge.
MAX_PAYLOAD = 32 * 1024 * 1024
_MAX_DEPTH = 64


def is_utf8(text: str) -> bool:
    """True if ``text`` encodes to UTF-8 (False for lone surrogates such as ``"\\ud800"``,
    which JSON can spell but DynamoDB, SQS and S3 cannot store)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(value: Any, path: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InvalidPayload(f"payload nests deeper than {_MAX_DEPTH} levels at {path}")
    if isinstance(value, str):
        if not is_utf8(value):
            raise InvalidPayload(f"payload{path} is not valid Unicode text (a lone surrogate)")
        return
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise InvalidPayload(
                f"payload{path} is {value!r}, which JSON cannot carry; use null or a string"
            )
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidPayload(
                    f"payload{path} has a {type(key).__name__} key {key!r}; "
                    "JSON object keys must be strings"
                )
            if not is_utf8(key):
                raise InvalidPayload(f"payload{path} has a key that is not valid Unicode text")
            _check(item, f"{path}[{key!r}]", depth + 1)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    hint = {
        "datetime": "send an ISO-8601 string",
        "date": "send an ISO-8601 string",
        "bytes": "send base64 text, or upload it and send its key",
        "Decimal": "send a float or a string",
        "set": "send a sorted list",
        "frozenset": "send a sorted list",
        "tuple": "send a list",
    }.get(type(value).__name__, "convert it to JSON-native types first")
    raise InvalidPayload(
        f"payload{path} is a {type(value).__name__}, which is not native JSON: {hint}"
    )


def encode(value: Any) -> bytes:
    """Canonical JSON bytes of a JSON-native value; raises InvalidPayload otherwise."""
    _check(value, "", 0)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes | str) -> Any:
    return json.loads(data)
