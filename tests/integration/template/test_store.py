"""The catalog and review on a real database, migrated by Alembic, with filegen stood in for.

These pin down what REST cannot easily provoke: a blob-store failure mid-upload, two
uploads racing for the same version number, and a stale approval.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core import db
from core.blobs import BlobStore
from core.errors import Aborted, FailedPrecondition, InvalidArgument, PermissionDenied
from core.settings import load
from services.template.catalog import Catalog
from services.template.fields import FillField
from services.template.review import Review
from services.template.signers import Position, SignerRole
from services.template.store import GroupRow, TemplateRow, VersionRow
from services.template.vetting import VettedDocx

DOCX = b"PK\x03\x04 first"
SIGNERS = (SignerRole("lender", "ORG", (Position(keyword="甲方"),)),)


class StandInVetting:
    """Passes everything; ``during`` runs inside the next vet, as a concurrent upload would."""

    def __init__(self) -> None:
        self.during = None

    def vet(self, docx: bytes, signers) -> VettedDocx:
        during, self.during = self.during, None
        if during is not None:
            during()
        return VettedDocx(docx, "0" * 64, (FillField("amount", "NUMBER", True),), 1)


class FailingBlobs(BlobStore):
    def put(self, data: bytes) -> str:
        raise OSError("disk full")


@pytest.fixture
def sessions(tmp_path):
    settings = load("template", {"ECONTRACT_VAR_DIR": str(tmp_path)})
    engine = db.make_engine(settings)
    db.migrate(settings, engine)
    yield db.make_sessions(engine)
    engine.dispose()


def count(sessions, table) -> int:
    with sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(table))


def test_a_blob_store_failure_stores_no_rows(sessions, tmp_path):
    catalog = Catalog(sessions, FailingBlobs(tmp_path / "blobs"), StandInVetting())
    with pytest.raises(OSError):
        catalog.create_template(name="借款合同", group="loans", description="", docx=DOCX, signers=SIGNERS, creator="app_a")
    assert count(sessions, TemplateRow) == count(sessions, VersionRow) == count(sessions, GroupRow) == 0


def test_refused_input_writes_nothing_at_all(sessions, tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    catalog = Catalog(sessions, blobs, StandInVetting())
    with pytest.raises(InvalidArgument):
        catalog.create_template(name="x", group="", description="", docx=b"%PDF", signers=SIGNERS, creator="app_a")
    assert count(sessions, TemplateRow) == 0 and not (tmp_path / "blobs").exists()


def test_racing_uploads_get_distinct_versions_or_abort(sessions, tmp_path):
    vetting = StandInVetting()
    catalog = Catalog(sessions, BlobStore(tmp_path / "blobs"), vetting)
    template, _ = catalog.create_template(name="借款合同", group="", description="", docx=DOCX, signers=SIGNERS,
                                          creator="app_a")
    winner = []
    vetting.during = lambda: winner.append(
        catalog.add_version(template.template_id, docx=b"PK\x03\x04 second", signers=None, change_note="", uploader="app_b")
    )
    with pytest.raises(Aborted):
        catalog.add_version(template.template_id, docx=b"PK\x03\x04 third", signers=None, change_note="", uploader="app_c")
    assert winner[0].version == 2
    detail = catalog.get(template.template_id)
    assert [v.version for v in detail.versions] == [1, 2] and detail.template.latest_version == 2
    assert detail.versions[1].signers == SIGNERS  # kept from the version before


def test_review_rules_hold_on_the_database(sessions, tmp_path):
    catalog = Catalog(sessions, BlobStore(tmp_path / "blobs"), StandInVetting())
    review = Review(sessions)
    template, _ = catalog.create_template(name="借款合同", group="", description="", docx=DOCX, signers=SIGNERS,
                                          creator="app_ops")
    tid = template.template_id
    catalog.add_version(tid, docx=b"PK\x03\x04 v2", signers=None, change_note="", uploader="app_ops")
    with pytest.raises(PermissionDenied):
        review.approve(tid, 1, "app_ops", "")
    assert review.approve(tid, 2, "app_legal", "ok").status == "APPROVED"
    with pytest.raises(FailedPrecondition) as stale:
        review.approve(tid, 1, "app_legal", "late")
    assert "older than its approved version 2" in stale.value.message
    assert catalog.version(tid, 1).status == "PENDING_REVIEW"  # the refused approval was rolled back
    resolved = review.resolve_approved(tid)
    assert (resolved.version.version, resolved.template_name) == (2, "借款合同")
