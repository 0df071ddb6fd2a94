"""Canonical JSON for hashing (RFC 8785 style) and the entry hash.

- keys sorted, no insignificant whitespace, UTF-8, strings escaped as ECMAScript's
  ``JSON.stringify`` does (Python's ``json`` with ``ensure_ascii=False`` matches it for
  the characters that matter: quote, backslash, and control characters);
- numbers must be integers (floats have no single canonical text across languages):
  a float is refused, so a caller passes it as a string;
- datetimes are written as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` by :func:`timestamp`.

The hash of an entry is ``SHA-256(prev_hash || canonical(entry))`` where ``prev_hash`` is
the previous entry's hash as 64 lowercase hex characters (64 zeros before the first)
and ``entry`` is ``{"org", "seq", "at", "actor", "actor_id", "action", "subject",
"payload"}``. ``docs/ledger.md`` shows how an auditor recomputes it.
"""
import hashlib
import json
from datetime import datetime, timezone
from json.encoder import encode_basestring as _encode_str  # what json.dumps(ensure_ascii=False) uses

GENESIS = "0" * 64


def _check(value, path="$"):
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return
    if isinstance(value, float):
        raise TypeError(f"{path}: floats are not canonical; pass {value!r} as a string")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be strings, not {key!r}")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not JSON")


def dumps(value):
    """The canonical JSON text of ``value``."""
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def timestamp(value):
    """A datetime as canonical UTC text (microseconds, ``Z``)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    # isoformat is the same text as strftime("%Y-%m-%dT%H:%M:%S.%f") for years 1000-9999, and faster.
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"



def jsonable(value):
    """Turn datetimes (and tuples, sets) into canonical-JSON-safe values, recursively."""
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return value


def _int_or_null(value):
    return "null" if value is None else str(value)


def _plain(value):
    return value is None or type(value) is int


def entry_body(*, org_id, seq, at, actor, actor_id, action, subject_type, subject_id, payload_text):
    """The canonical bytes of one entry (``payload_text`` is already canonical JSON).

    The usual types (str, int, None) take a fast path that writes the keys in their sorted
    order directly (``verify`` rebuilds every body); anything else goes through
    :func:`dumps`, and both give the same text (tests/ledger/test_canonical.py).
    """
    if (type(org_id) is int and type(seq) is int and _plain(actor_id) and _plain(subject_id)
            and type(actor) is str and type(action) is str and type(subject_type) is str):
        return (
            '{"action":' + _encode_str(action) + ',"actor":' + _encode_str(actor)
            + ',"actor_id":' + _int_or_null(actor_id) + ',"at":"' + timestamp(at) + '","org":' + str(org_id)
            + ',"payload":' + payload_text + ',"seq":' + str(seq)
            + ',"subject":[' + _encode_str(subject_type) + "," + _int_or_null(subject_id) + "]}"
        ).encode("utf-8")
    return _entry_body_reference(org_id=org_id, seq=seq, at=at, actor=actor, actor_id=actor_id, action=action,
                                 subject_type=subject_type, subject_id=subject_id, payload_text=payload_text)


def _entry_body_reference(*, org_id, seq, at, actor, actor_id, action, subject_type, subject_id, payload_text):
    """:func:`entry_body` through :func:`dumps` (the definition the fast path must match)."""
    head = dumps({
        "org": org_id, "seq": seq, "at": timestamp(at), "actor": actor, "actor_id": actor_id,
        "action": action, "subject": [subject_type, subject_id], "payload": None,
    })
    # Splice the stored payload text in place of null: the payload is hashed exactly as stored.
    marker = '"payload":null'
    cut = head.index(marker)
    return (head[:cut] + '"payload":' + payload_text + head[cut + len(marker):]).encode("utf-8")


def entry_hash(prev_hash, body):
    """SHA-256 over the previous hash (hex text) followed by the canonical entry bytes."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(body)
    return digest.hexdigest()
