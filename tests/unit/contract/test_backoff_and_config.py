"""Webhook retry timing and the service's configuration."""
from __future__ import annotations

import pytest

from core.settings import SettingsError
from services.contract.config import ContractConfig, load_config
from services.contract.webhooks import next_wait


def test_waits_grow_exponentially_with_jitter_up_to_the_cap():
    config = ContractConfig(webhook_backoff_seconds=10, webhook_backoff_max_seconds=3600)
    for attempt in range(1, 6):
        waits = [next_wait(attempt, config) for _ in range(50)]
        base = 10 * 2 ** (attempt - 1)
        assert all(base <= w <= base + 10 for w in waits)
        assert len(set(waits)) > 1  # jitter spreads retries of many receivers
    assert all(next_wait(30, config) == 3600 for _ in range(10))


def test_defaults_depend_on_dev_mode():
    assert load_config({}, dev=True).webhook_allow_private is True
    assert load_config({}, dev=False).webhook_allow_private is False
    assert load_config({"CONTRACT_WEBHOOK_ALLOW_PRIVATE": "true"}, dev=False).webhook_allow_private is True
    assert load_config({"CONTRACT_WEBHOOK_ALLOW_PRIVATE": "false"}, dev=True).webhook_allow_private is False


def test_values_are_read_and_checked():
    config = load_config({"CONTRACT_WEBHOOK_TIMEOUT": "3", "CONTRACT_SIGN_URL_TTL": "600",
                          "CONTRACT_WEBHOOK_GIVE_UP_HOURS": "72"}, dev=False)
    assert (config.webhook_timeout, config.sign_url_ttl, config.webhook_give_up_hours) == (3.0, 600, 72.0)
    with pytest.raises(SettingsError, match="CONTRACT_WEBHOOK_TIMEOUT"):
        load_config({"CONTRACT_WEBHOOK_TIMEOUT": "soon"}, dev=False)
    with pytest.raises(SettingsError, match="CONTRACT_WEBHOOK_ALLOW_PRIVATE"):
        load_config({"CONTRACT_WEBHOOK_ALLOW_PRIVATE": "maybe"}, dev=False)
    with pytest.raises(SettingsError, match="positive"):
        load_config({"CONTRACT_SWEEP_SECONDS": "0"}, dev=False)
    with pytest.raises(SettingsError, match="BACKOFF_MAX"):
        load_config({"CONTRACT_WEBHOOK_BACKOFF_SECONDS": "100", "CONTRACT_WEBHOOK_BACKOFF_MAX_SECONDS": "10"}, dev=False)
