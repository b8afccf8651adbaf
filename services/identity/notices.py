"""Notices to signers (reminders, expiry notices) through the same senders as one-time
codes: SMTP for e-mail, the SMS gateway, or the dev outbox in dev mode.

The caller's notice id travels as the message id, so an SMS gateway that saw it before
(a retry after a lost answer) can drop the duplicate.
"""
from __future__ import annotations

import secrets
from collections.abc import Mapping

from core.errors import FailedPrecondition, invalid
from services.identity.realname import normalise_mobile
from services.identity.senders import Channel, MessageSender, OutgoingMessage

MAX_BODY = 1000
MAX_SUBJECT = 200


class NoticeDelivery:
    def __init__(self, senders: Mapping[Channel, MessageSender]):
        self._senders = dict(senders)

    def send(self, channel: Channel, recipient: str, subject: str, body: str, notice_id: str = "") -> str:
        """Hand the notice to the channel's sender; the sender's message id."""
        recipient = recipient.strip()
        if channel is Channel.SMS:
            mobile = normalise_mobile(recipient)
            if mobile is None:
                raise invalid("recipient", "must be a mainland mobile number for SMS")
            recipient = mobile
        elif "@" not in recipient or len(recipient) > 254:
            raise invalid("recipient", "must be an email address for EMAIL")
        if not body.strip() or len(body) > MAX_BODY:
            raise invalid("body", f"must be 1 to {MAX_BODY} characters")
        if len(subject) > MAX_SUBJECT:
            raise invalid("subject", f"must be at most {MAX_SUBJECT} characters")
        sender = self._senders.get(channel)
        if sender is None:
            raise FailedPrecondition(f"no {channel.value} sender configured; the platform cannot deliver {channel.value} notices")
        message_id = notice_id.strip()[:80] or "ntc_" + secrets.token_urlsafe(12)
        return sender.send(OutgoingMessage(channel, recipient, body, subject if channel is Channel.EMAIL else "",
                                           message_id=message_id))
