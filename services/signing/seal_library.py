"""Seals of subjects: generated or uploaded, stored, listed, and chosen for a signing.

A seal belongs to the subject named by an identifier (``idType`` + ``id``), which is
kept only as a keyed hash: the seal table never holds an ID card number. The image
is a normalised transparent PNG in the content-addressed blob store. A subject's
first seal is its default, the one a signing uses when it names neither a seal nor a
handwriting image; a subject with no seal at all gets one generated at its first
signing in the business line's style (``SealStyles``: by default a round seal for an
organisation, a square name seal for a person). A seal generated without a named style
gets the business line's style for the subject's kind too.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from core.blobs import BlobStore
from core.errors import InvalidArgument, NotFound, PermissionDenied, invalid
from services.signing import seals
from services.signing.pki_secrets import PkiSecrets
from services.signing.placement import AppearanceKind
from services.signing.store import SealStore, StoredSeal, page_size

_ID_TYPE = re.compile(r"[A-Z][A-Z0-9_]{1,31}")
# Identifier systems whose values are case-insensitive (ID card check letter X, credit codes).
_UPPERCASE_ID_TYPES = frozenset({"ID_CARD", "USCC"})
DEFAULT_NAMES = {"ROUND_COMPANY": "公章", "OVAL_COMPANY": "公章", "SQUARE_PERSONAL": "个人名章",
                 "RECTANGULAR_PERSONAL": "个人名章"}


class SealStyle(StrEnum):
    NONE = ""
    ROUND_COMPANY = "ROUND_COMPANY"
    SQUARE_PERSONAL = "SQUARE_PERSONAL"
    OVAL_COMPANY = "OVAL_COMPANY"
    RECTANGULAR_PERSONAL = "RECTANGULAR_PERSONAL"


COMPANY_STYLES = frozenset({SealStyle.ROUND_COMPANY, SealStyle.OVAL_COMPANY})
PERSONAL_STYLES = frozenset({SealStyle.SQUARE_PERSONAL, SealStyle.RECTANGULAR_PERSONAL})


@dataclass(frozen=True)
class SealStyles:
    """The styles a business line's seals are generated in when none is named."""

    company: SealStyle = SealStyle.ROUND_COMPANY
    personal: SealStyle = SealStyle.SQUARE_PERSONAL

    def for_subject(self, subject: SubjectRef) -> SealStyle:
        # Organisations sign under their unified social credit code (see certificate_subject).
        return self.company if subject.id_type == "USCC" else self.personal


class SealSource(StrEnum):
    GENERATED = "GENERATED"
    UPLOADED = "UPLOADED"


@dataclass(frozen=True)
class SubjectRef:
    id_type: str
    id: str

    def normalised(self, field: str = "subject") -> SubjectRef:
        id_type, value = self.id_type.strip().upper(), self.id.strip()
        if not _ID_TYPE.fullmatch(id_type):
            raise invalid(f"{field}.idType", "must be an identifier type such as USCC or ID_CARD")
        if not value or len(value) > 128:
            raise invalid(f"{field}.id", "must be 1 to 128 characters")
        return SubjectRef(id_type, value.upper() if id_type in _UPPERCASE_ID_TYPES else value)


@dataclass(frozen=True)
class Seal:
    seal_id: str
    subject: SubjectRef
    name: str
    style: SealStyle
    source: SealSource
    png: bytes
    image_sha256: str
    created_at: dt.datetime
    is_default: bool
    width: int
    height: int


@dataclass(frozen=True)
class SealChoice:
    """The image a signing shows and how big it is drawn."""

    png: bytes
    kind: AppearanceKind
    pixels: tuple[int, int]
    seal_id: str | None


class SealLibrary:
    def __init__(self, store: SealStore, blobs: BlobStore, pki_secrets: PkiSecrets, *,
                 font: str | None = None, limits: seals.UploadLimits | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
                 styles: Callable[[str], SealStyles] = lambda app_id: SealStyles()):
        self._store = store
        self._blobs = blobs
        self._secrets = pki_secrets
        self._font = font
        self._limits = limits or seals.UploadLimits()
        self._clock = clock
        self._styles = styles  # app id -> the business line's seal styles

    @property
    def limits(self) -> seals.UploadLimits:
        return self._limits

    def _owner(self, subject: SubjectRef) -> str:
        return self._secrets.subject_hash(subject.id_type, subject.id)

    def _font_spec(self) -> seals.FontSpec:
        return seals.find_cjk_font(self._font)

    # -- REST

    def generate(self, subject: SubjectRef, style: SealStyle, text: str, *, horizontal_text: str = "",
                 seal_code: str = "", name: str = "", app_id: str = "", subject_id: str | None = None) -> Seal:
        subject = subject.normalised()
        if style is SealStyle.NONE:
            style = self._styles(app_id).for_subject(subject)
        code, title = seal_code.strip() or None, horizontal_text.strip() or None
        if style is SealStyle.ROUND_COMPANY:
            png = seals.round_company_seal(text, code, title=title, font=self._font_spec())
        elif style is SealStyle.OVAL_COMPANY:
            png = seals.oval_company_seal(text, code, title=title, font=self._font_spec())
        elif style is SealStyle.SQUARE_PERSONAL:
            png = seals.square_name_seal(text, font=self._font_spec())
        elif style is SealStyle.RECTANGULAR_PERSONAL:
            png = seals.rectangular_name_seal(text, font=self._font_spec())
        else:
            raise invalid("style", f"must be one of {', '.join(s.value for s in SealStyle if s.value)}")
        label = name.strip() or horizontal_text.strip() or DEFAULT_NAMES[style.value]
        return self._save(subject, png, label, style, SealSource.GENERATED, app_id, subject_id)

    def upload(self, subject: SubjectRef, image: bytes, *, name: str = "", app_id: str = "") -> Seal:
        subject = subject.normalised()
        png = seals.normalize_uploaded_seal(image, self._limits)
        return self._save(subject, png, name.strip(), SealStyle.NONE, SealSource.UPLOADED, app_id, None)

    def list(self, subject: SubjectRef, *, size: int = 0, token: str = "") -> tuple[list[Seal], str | None]:
        subject = subject.normalised()
        rows, next_token = self._store.list(self._owner(subject), size=page_size(size), token=token or None)
        return [self._seal(subject, row) for row in rows], next_token

    # -- signing

    def chosen(self, seal_id: str, subject: SubjectRef, kind: AppearanceKind, subject_id: str = "") -> SealChoice:
        """The seal ``seal_id``, which must belong to the signer's subject."""
        row = self._store.get(seal_id)
        if row is None:
            raise NotFound(f"seal {seal_id} does not exist")
        owned = row.owner_hash == self._owner(subject.normalised("signer.subject")) or (
            bool(subject_id) and row.subject_id == subject_id)
        if not owned:
            raise PermissionDenied(f"seal {seal_id} does not belong to the signer")
        return SealChoice(self._image(row.image_ref), _kind(row.style, kind), (row.width, row.height), row.seal_id)

    def default_for(self, subject: SubjectRef, kind: AppearanceKind, name: str, subject_id: str = "",
                    app_id: str = "") -> SealChoice:
        """The subject's default seal, generated (and stored as default) in the style of the
        business line ``app_id`` when the subject has none."""
        subject = subject.normalised("signer.subject")
        row = self._store.default(self._owner(subject))
        if row is None:
            styles = self._styles(app_id)
            style = styles.company if kind is AppearanceKind.COMPANY_SEAL else styles.personal
            seal = self.generate(subject, style, name, subject_id=subject_id or None)
            return SealChoice(seal.png, kind, (seal.width, seal.height), seal.seal_id)
        return SealChoice(self._image(row.image_ref), _kind(row.style, kind), (row.width, row.height), row.seal_id)

    def handwriting(self, image: bytes) -> SealChoice:
        """A signature-pad image, with the same checks and background removal as an uploaded seal."""
        try:
            png = seals.normalize_uploaded_seal(image, self._limits)
        except InvalidArgument as exc:
            raise invalid("handwritingImage", exc.message.removeprefix("image: ")) from exc
        return SealChoice(png, AppearanceKind.HANDWRITING, seals.image_size(png), None)

    # -- internals

    def _save(self, subject: SubjectRef, png: bytes, name: str, style: SealStyle, source: SealSource,
              app_id: str, subject_id: str | None) -> Seal:
        if len(name) > 100:
            raise invalid("name", "at most 100 characters")
        width, height = seals.image_size(png)
        stored = self._store.add(StoredSeal(
            seal_id="seal_" + secrets.token_hex(10), owner_hash=self._owner(subject), id_type=subject.id_type,
            subject_id=subject_id, name=name, style=style.value, source=source.value,
            image_ref=self._blobs.put(png), width=width, height=height, created_by_app=app_id,
            is_default=False, created_at=self._clock(),
        ))
        return self._seal(subject, stored, png)

    def _seal(self, subject: SubjectRef, row: StoredSeal, png: bytes | None = None) -> Seal:
        return Seal(
            seal_id=row.seal_id, subject=subject, name=row.name, style=SealStyle(row.style),
            source=SealSource(row.source), png=png if png is not None else self._image(row.image_ref),
            image_sha256=row.image_ref.removeprefix("sha256:"), created_at=row.created_at,
            is_default=row.is_default, width=row.width, height=row.height,
        )

    def _image(self, ref: str) -> bytes:
        return _cached_blob(self._blobs, ref)


@functools.lru_cache(maxsize=128)
def _cached_blob(blobs: BlobStore, ref: str) -> bytes:
    # Content-addressed, so a cached image can never be stale.
    return blobs.get(ref)


def _kind(style: str, signer_kind: AppearanceKind) -> AppearanceKind:
    if style in COMPANY_STYLES:
        return AppearanceKind.COMPANY_SEAL
    if style in PERSONAL_STYLES:
        return AppearanceKind.PERSONAL_SEAL
    return signer_kind  # an uploaded seal is drawn at the size of its owner's kind
