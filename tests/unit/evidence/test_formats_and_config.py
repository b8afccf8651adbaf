"""The canonical bytes of leaves, tree heads, proofs and audit trails, and the schedule's
configuration."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from core.settings import SettingsError
from services.contract import audit
from services.contract import evidence_formats as formats
from services.contract.model import Actor
from services.contract.notices import NoticeTexts, masked
from services.contract.schedule_config import load_schedule_config

H = "ab" * 32


def test_a_leaf_round_trips_and_its_bytes_are_canonical():
    leaf = formats.LeafData("ct_1", "2026-01-01T00:00:00.000000Z", (formats.LeafDocument("doc_1", H),), 7, H, H)
    data = formats.leaf_bytes(leaf)
    assert formats.parse_leaf(data) == leaf
    assert data == json.dumps(json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    with pytest.raises(ValueError, match="canonical form"):
        formats.parse_leaf(json.dumps(json.loads(data), indent=1).encode())
    with pytest.raises(ValueError, match="not a lowercase hex"):
        formats.parse_leaf(data.replace(H.encode(), H.upper().encode(), 1))


def test_a_tree_head_and_a_proof_round_trip():
    head = formats.tree_head_bytes("log", 3, H, datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert formats.parse_tree_head(head) == formats.TreeHeadData("log", 3, H, "2026-01-01T00:00:00.000000Z")
    proof = formats.InclusionData(1, 3, H, (H, H))
    assert formats.parse_inclusion(formats.inclusion_bytes(proof)) == proof


def test_an_audit_trail_round_trips_and_still_recomputes():
    events, prev = [], audit.GENESIS
    for seq, kind in enumerate(["contract.created", "signer.signed"], start=1):
        draft = audit.Event("ct_1", seq, kind, "system", datetime(2026, 1, 1, 0, 0, seq, tzinfo=timezone.utc), "", "", "",
                            "", {"documents": [{"sha256": H}], "名称": "中文"}, prev, "")
        event = audit.Event(**{**draft.__dict__, "hash": audit.event_hash(prev, draft)})
        events.append(event)
        prev = event.hash
    back = formats.parse_audit_trail(formats.audit_trail_bytes(events))
    assert back == events and audit.verify(back).ok
    assert Actor("system").name == "system"


def test_the_schedule_configuration_reads_its_variables_and_refuses_bad_ones(tmp_path: Path):
    config = load_schedule_config(tmp_path, {"CONTRACT_REMINDER_SECONDS": "3600", "CONTRACT_REMINDER_MAX": "5",
                                             "CONTRACT_EVIDENCE_LEDGER_FILE": "none"})
    assert config.reminder_seconds == 3600 and config.reminder_max == 5 and config.ledger_file is None
    assert load_schedule_config(tmp_path, {}).ledger_file == tmp_path / "evidence" / "ledger.jsonl"
    for name, value in [("CONTRACT_REMINDER_SECONDS", "-1"), ("CONTRACT_REMINDER_MAX", "1.5"),
                        ("CONTRACT_NOTICE_TIMEZONE", "Mars/Olympus"), ("CONTRACT_SCHEDULER_TICK_SECONDS", "x")]:
        with pytest.raises(SettingsError, match=name):
            load_schedule_config(tmp_path, {name: value})


def test_notice_texts_are_chinese_with_local_times_and_masked_recipients():
    from tests.unit.evidence.test_reminders_and_grants import _contract, _signer

    contract = _contract(_signer("张三", 1), expire_at=datetime(2026, 1, 1, 16, 0, tzinfo=timezone.utc))
    subject, body = NoticeTexts("Asia/Shanghai").reminder(contract, contract.signers[0], "https://x/sign/t")
    assert "2026-01-02 00:00" in body and body.endswith("签署链接：https://x/sign/t") and "请签署" in subject
    _, expired = NoticeTexts("Asia/Shanghai").expired(contract, contract.signers[0])
    assert "已于2026-01-02 00:00过期" in expired
    assert masked("13812345678") == "138****5678" and masked("alice@example.com") == "a***@example.com"


def test_the_ledger_is_chosen_by_configuration(tmp_path: Path):
    from services.contract.ledger import FileLedger, HttpLedger, ledger_for

    default = load_schedule_config(tmp_path, {})
    assert default.ledger == "file" and isinstance(ledger_for(default), FileLedger)
    assert ledger_for(load_schedule_config(tmp_path, {"CONTRACT_EVIDENCE_LEDGER_FILE": "none"})) is None
    assert ledger_for(load_schedule_config(tmp_path, {"CONTRACT_EVIDENCE_LEDGER": "none"})) is None
    http = load_schedule_config(tmp_path, {
        "CONTRACT_EVIDENCE_LEDGER": "HTTP", "CONTRACT_EVIDENCE_LEDGER_URL": "https://user:pw@ledger.example:8443/v1/heads?k=1",
        "CONTRACT_EVIDENCE_LEDGER_TOKEN": "s3cret-token", "CONTRACT_EVIDENCE_LEDGER_TIMEOUT_SECONDS": "2.5"})
    ledger = ledger_for(http)
    assert isinstance(ledger, HttpLedger) and http.ledger_timeout_seconds == 2.5
    assert ledger.where == "https://ledger.example:8443/v1/heads"  # no credentials, no query
    assert "s3cret-token" not in repr(http)
    for env, named in [
        ({"CONTRACT_EVIDENCE_LEDGER": "chain"}, "CONTRACT_EVIDENCE_LEDGER="),
        ({"CONTRACT_EVIDENCE_LEDGER": "http"}, "CONTRACT_EVIDENCE_LEDGER_URL"),
        ({"CONTRACT_EVIDENCE_LEDGER": "http", "CONTRACT_EVIDENCE_LEDGER_URL": "ftp://ledger.example/x"},
         "CONTRACT_EVIDENCE_LEDGER_URL"),
        ({"CONTRACT_EVIDENCE_LEDGER": "file", "CONTRACT_EVIDENCE_LEDGER_FILE": "none"}, "CONTRACT_EVIDENCE_LEDGER_FILE"),
        ({"CONTRACT_EVIDENCE_LEDGER": "http", "CONTRACT_EVIDENCE_LEDGER_URL": "http://l.example/",
          "CONTRACT_EVIDENCE_LEDGER_TIMEOUT_SECONDS": "0"}, "CONTRACT_EVIDENCE_LEDGER_TIMEOUT_SECONDS"),
    ]:
        with pytest.raises(SettingsError, match=named):
            load_schedule_config(tmp_path, env)
