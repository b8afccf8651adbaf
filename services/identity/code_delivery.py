"""Which sender carries a one-time code, and handing the code to it.

A configured real sender is used (SMTP for e-mail, the HTTP gateway for SMS); in dev mode
anything without one goes to the dev outbox. Outside dev mode a channel with no sender
is refused before a challenge is made, so no code is ever created that nobody can get.
"""
from __future__ import annotations

from collections.abc import Mapping

from core.errors import FailedPrecondition
from services.identity.otp import Challenge
from services.identity.policy import IntentMethod
from services.identity.senders import Channel, MessageSender, code_message


class CodeDelivery:
    def __init__(self, senders: Mapping[Channel, MessageSender], code_minutes: int):
        self._senders = dict(senders)
        self._minutes = code_minutes

    def sender(self, method: IntentMethod) -> MessageSender:
        """The sender for ``method``'s codes; FAILED_PRECONDITION when there is none."""
        channel = Channel(method.value)
        sender = self._senders.get(channel)
        if sender is None:
            raise FailedPrecondition(f"no {channel.value} sender configured; the platform cannot deliver {channel.value} codes")
        return sender

    def deliver(self, challenge: Challenge, code: str) -> str:
        message = code_message(
            Channel(challenge.method.value), challenge.recipient, code, minutes=self._minutes, challenge_id=challenge.id
        )
        return self.sender(challenge.method).send(message)
