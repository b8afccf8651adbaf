"""The contract service's background thread: webhook deliveries, expiry of overdue
contracts, and retries of B-LTA timestamps that failed on completion.

One per replica; all of its work is safe to run on several replicas at once (leases on
webhook events, compare-and-set on contracts). Started by server.py, stopped through
``ServiceContext.on_close``.
"""
from __future__ import annotations

import logging
import threading
import time

from services.contract.config import ContractConfig
from services.contract.lifecycle import Lifecycle
from services.contract.webhooks import Deliveries

log = logging.getLogger(__name__)


class BackgroundWork:
    def __init__(self, deliveries: Deliveries, lifecycle: Lifecycle, config: ContractConfig):
        self._deliveries = deliveries
        self._lifecycle = lifecycle
        self._config = config
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="contract-background", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the attempt under way (bounded by the webhook timeout), then return."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self._config.webhook_timeout + 5)

    def _run(self) -> None:
        next_sweep = 0.0
        while not self._stopping.is_set():
            busy = False
            try:
                busy = self._deliveries.run_once() >= self._config.webhook_batch
            except Exception:  # noqa: BLE001 - the loop must outlive a bad moment (database restart...)
                log.exception("webhook delivery round failed")
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self._config.sweep_seconds
                try:
                    self._lifecycle.expire_due()
                    self._lifecycle.retry_lta(older_than=self._config.sweep_seconds * 2)
                except Exception:  # noqa: BLE001
                    log.exception("contract sweep failed")
            if not busy:
                self._stopping.wait(self._config.webhook_poll_seconds)
