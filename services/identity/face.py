"""Face verification: liveness of the person in front of the camera and their likeness to
the photo on record for the ID number. Real checks come from a provider (per business line)
implementing ``FaceVerifier``; the only built-in one is ``FakeFaceVerifier``."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Protocol

from core.errors import FailedPrecondition, invalid


@dataclass(frozen=True)
class FaceResult:
    liveness_passed: bool
    liveness_score: float  # 0..1
    similarity: float  # 0..1, against the registered photo
    threshold: float  # similarity needed to pass
    passed: bool  # liveness passed and similarity >= threshold
    provider: str
    reference: str  # the provider's id for this check, for disputes
    evidence_sha256: str  # SHA-256 of what the provider was given
    checked_at: dt.datetime


class FaceVerifier(Protocol):
    def verify(self, *, name: str, id_number: str, capture: bytes) -> FaceResult:
        """``capture`` is what the signing page produced: a video, an image, or the
        provider SDK's result token, as the provider defines it."""
        ...


class FakeFaceVerifier:
    """A stand-in that returns fixed scores without looking at anything.

    For tests and local development only: it refuses to be built unless dev mode is on,
    and reports itself as provider ``FAKE`` so no result it makes passes for real.
    """

    provider = "FAKE"

    def __init__(self, *, dev_mode: bool, liveness_score: float = 0.99, similarity: float = 0.95, threshold: float = 0.8):
        if not dev_mode:
            raise FailedPrecondition("FakeFaceVerifier is for tests and dev mode (ECONTRACT_ENV=dev) only")
        self._liveness = liveness_score
        self._similarity = similarity
        self._threshold = threshold

    def verify(self, *, name: str, id_number: str, capture: bytes) -> FaceResult:
        if not capture:
            raise invalid("capture", "empty face capture")
        digest = hashlib.sha256(capture).hexdigest()
        liveness_passed = self._liveness >= 0.5
        return FaceResult(
            liveness_passed=liveness_passed,
            liveness_score=self._liveness,
            similarity=self._similarity,
            threshold=self._threshold,
            passed=liveness_passed and self._similarity >= self._threshold,
            provider=self.provider,
            reference="fake_" + digest[:16],
            evidence_sha256=digest,
            checked_at=dt.datetime.now(dt.UTC),
        )
