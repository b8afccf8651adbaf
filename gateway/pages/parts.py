"""What the handlers share, made when the gateway starts (its channels and Redis)."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.pages.config import PagesConfig
from gateway.pages.documents import PageImages
from gateway.pages.rpc import Rpc
from gateway.pages.sessions import SessionStore


@dataclass(frozen=True)
class Parts:
    config: PagesConfig
    rpc: Rpc
    sessions: SessionStore
    images: PageImages
    public_url: str  # where signers reach the gateway, e.g. for the agreement evidence

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")
