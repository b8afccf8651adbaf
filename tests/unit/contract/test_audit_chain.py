"""The audit trail's hash chain: its canonical form and the verification."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from services.contract.audit import GENESIS, Event, canonical, event_hash, plain_details, verify

START = datetime(2026, 1, 1, 8, 0, 0, 123000, tzinfo=timezone.utc)


def chain(count: int) -> list[Event]:
    events, prev = [], GENESIS
    for seq in range(1, count + 1):
        draft = Event("ct_1", seq, f"event.{seq}", "app:app_1", START + timedelta(seconds=seq), "203.0.113.1",
                      "curl/8", "ab" * 16, "sg_1" if seq % 2 else "", plain_details({"n": seq, "ok": True}), prev, "")
        event = replace(draft, hash=event_hash(prev, draft))
        events.append(event)
        prev = event.hash
    return events


def test_canonical_form_is_what_the_proto_documents():
    event = chain(1)[0]
    text = canonical(event).decode()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert '"time":"2026-01-01T08:00:01.123000Z"' in text and '"seq":1' in text
    assert list(json.loads(text)) == sorted(["actor", "contractId", "details", "ip", "seq", "signerId", "time",
                                             "traceId", "type", "userAgent"])
    assert event.hash == hashlib.sha256(GENESIS.encode() + text.encode()).hexdigest()


def test_non_ascii_is_not_escaped():
    event = replace(chain(1)[0], details={"reason": "利率太高"})
    assert "利率太高".encode() in canonical(event)


def test_details_become_strings():
    assert plain_details({"a": 1, "b": [1.5, None, False], "c": {"d": True}}) == {
        "a": "1", "b": ["1.5", "", "false"], "c": {"d": "true"}}


def test_an_intact_chain_verifies():
    check = verify(chain(5))
    assert check.ok and check.checked == 5


def test_a_changed_event_breaks_the_chain():
    events = chain(5)
    events[2] = replace(events[2], actor="app:mallory")
    check = verify(events)
    assert not check.ok and check.broken_at == 3 and "changed" in check.reason


def test_a_changed_event_with_a_recomputed_hash_breaks_the_next_link():
    events = chain(5)
    forged = replace(events[2], details={"n": "999", "ok": "true"})
    events[2] = replace(forged, hash=event_hash(forged.prev_hash, forged))
    check = verify(events)
    assert not check.ok and check.broken_at == 4 and "does not follow" in check.reason


def test_removed_or_reordered_events_are_found():
    events = chain(5)
    assert verify(events[:2] + events[3:]).broken_at == 4
    assert not verify([events[1], events[0], *events[2:]]).ok
    assert not verify(events[1:]).ok
