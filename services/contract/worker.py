"""The contract service's background thread: webhook deliveries, polled closely so that
an event leaves within a second of its state change.

One per replica; safe to run on several replicas at once (leases on webhook events).
The other recurring work (expiry, B-LTA retries, reminders, delegated signing, the
evidence log) runs under scheduler.py. Started by server.py, stopped through
``ServiceContext.on_close``.
"""
from __future__ import annotations

import logging
import threading

from services.contract.config import ContractConfig
from services.contract.webhooks import Deliveries

log = logging.getLogger(__name__)


class BackgroundWork:
    def __init__(self, deliveries: Deliveries, config: ContractConfig):
        self._deliveries = deliveries
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
        while not self._stopping.is_set():
            busy = False
            try:
                busy = self._deliveries.run_once() >= self._config.webhook_batch
            except Exception:  # noqa: BLE001 - the loop must outlive a bad moment (database restart...)
                log.exception("webhook delivery round failed")
            if not busy:
                self._stopping.wait(self._config.webhook_poll_seconds)
