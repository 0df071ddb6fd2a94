"""Canonical JSON: sorted keys, no whitespace, UTF-8 (Japanese unescaped), integers only; the hash."""
import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from app.ledger import canonical


def test_sorted_keys_no_whitespace_and_japanese_unescaped():
    text = canonical.dumps({"b": 1, "a": {"z": True, "y": None}, "件名": "個人情報の漏えい"})
    assert text == '{"a":{"y":null,"z":true},"b":1,"件名":"個人情報の漏えい"}'
    assert "\\u" not in text and text.encode("utf-8").decode("utf-8") == text


def test_control_characters_quote_and_backslash_are_escaped():
    assert canonical.dumps({"s": 'a"b\\c\n\u0001'}) == '{"s":"a\\"b\\\\c\\n\\u0001"}'


@pytest.mark.parametrize("value", [1.5, {"x": 0.1}, [1, 2.0], float("nan")])
def test_floats_are_refused(value):
    with pytest.raises(TypeError, match="floats are not canonical"):
        canonical.dumps(value)


def test_other_types_and_non_string_keys_are_refused():
    with pytest.raises(TypeError):
        canonical.dumps({"when": datetime.now(timezone.utc)})
    with pytest.raises(TypeError):
        canonical.dumps({1: "a"})


def test_timestamps_are_utc_with_microseconds():
    jst = timezone(timedelta(hours=9))
    assert canonical.timestamp(datetime(2026, 4, 1, 9, 0, tzinfo=jst)) == "2026-04-01T00:00:00.000000Z"
    with pytest.raises(ValueError):
        canonical.timestamp(datetime(2026, 4, 1))
    assert canonical.jsonable({"at": datetime(2026, 4, 1, tzinfo=timezone.utc), "t": (1, 2)}) == {
        "at": "2026-04-01T00:00:00.000000Z", "t": [1, 2]}


def test_entry_body_and_hash():
    at = datetime(2026, 4, 1, tzinfo=timezone.utc)
    body = canonical.entry_body(org_id=7, seq=1, at=at, actor="cli", actor_id=None, action="org_created",
                                subject_type="organisation", subject_id=7, payload_text='{"name":"株式会社"}')
    assert body == ('{"action":"org_created","actor":"cli","actor_id":null,"at":"2026-04-01T00:00:00.000000Z",'
                    '"org":7,"payload":{"name":"株式会社"},"seq":1,"subject":["organisation",7]}').encode("utf-8")
    expected = hashlib.sha256(canonical.GENESIS.encode("ascii") + body).hexdigest()
    assert canonical.entry_hash(canonical.GENESIS, body) == expected


@pytest.mark.parametrize("actor,action,subject_type,subject_id,actor_id", [
    ("cli", "org_created", "organisation", 1, None),
    ("user:12 山田@example.jp", "incident_filed", "incident", 10**12, 12),
    ('quote " back \\ tab \t nl \n bell \u0007 del \u007f ls \u2028', "x", "", None, 0),
    ("system:escalation", "escalate", "incident", 0, -1),
])
def test_the_fast_entry_body_is_the_reference_one(actor, action, subject_type, subject_id, actor_id):
    at = datetime(2026, 3, 29, 1, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    kwargs = dict(org_id=3, seq=42, at=at, actor=actor, actor_id=actor_id, action=action,
                  subject_type=subject_type, subject_id=subject_id, payload_text='{"a":"é","b":[1,null]}')
    assert canonical.entry_body(**kwargs) == canonical._entry_body_reference(**kwargs)
    assert canonical.timestamp(at) == at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_unusual_types_still_take_the_checked_path():
    at = datetime(2026, 4, 1, tzinfo=timezone.utc)
    with pytest.raises(TypeError):
        canonical.entry_body(org_id=1, seq=1, at=at, actor="a", actor_id=1.5, action="x", subject_type="",
                             subject_id=None, payload_text="{}")
    body = canonical.entry_body(org_id=1, seq=1, at=at, actor="a", actor_id=True, action="x", subject_type="",
                                subject_id=None, payload_text="{}")
    assert b'"actor_id":true' in body  # a bool is not an int here: the reference path writes it
