"""Builders shared by the signing tests: a 3-page contract PDF and a platform CA."""
from __future__ import annotations

import io
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from services.signing.pki import PkiSettings, PlatformCa

ORG_KEYWORD = "甲方（盖章）"
PERSON_KEYWORD = "乙方（签字）"


def contract_pdf(pages: int = 3) -> bytes:
    """A small contract; the last page holds the signature block keywords.

    STSong-Light is one of the Adobe CJK fonts every PDF reader provides, so the
    test needs no font file and the text is still searchable as Unicode.
    """
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    # Uncompressed content streams, so tests can tamper with visible text directly.
    c = canvas.Canvas(buf, pagesize=A4, invariant=True, pageCompression=0)
    for number in range(1, pages + 1):
        c.setFont("STSong-Light", 14)
        c.drawString(72, 770, f"个人借款合同 第 {number} 页 / Loan contract page {number}")
        c.setFont("Helvetica", 11)
        c.drawString(72, 750, f"Loan amount: 10000 CNY (page {number})")
        c.setFont("STSong-Light", 11)
        for line in range(20):
            c.drawString(72, 730 - line * 18, f"第 {line + 1} 条 甲乙双方经协商一致，订立本合同。Clause {line + 1}.")
        if number == pages:
            c.drawString(90, 260, ORG_KEYWORD)
            c.drawString(330, 260, PERSON_KEYWORD)
            c.drawString(90, 240, "Party A (seal)")
        c.showPage()
    c.save()
    return buf.getvalue()


def make_ca(directory: Path) -> PlatformCa:
    settings = PkiSettings(
        master_key=b"test-master-key-0123456789",
        id_hash_salt=b"test-id-salt-0123456789",
        directory=directory,
    )
    return PlatformCa.open(settings)
