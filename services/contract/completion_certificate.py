"""The certificate of completion: a PDF in Chinese listing a completed contract's signers,
how and when each signed, the document hashes after each signature, the final hashes
and the head of the audit trail.

Made once, when the contract enters the evidence log, from the contract and its audit
trail; its own SHA-256 goes into the log leaf, so it cannot change afterwards unnoticed.
Hashes are printed in Courier on one line each, so the offline verifier can read them
back from the PDF's text and compare them with the bundle.
"""
from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from services.contract.audit import Event
from services.contract.model import Contract, Signer, SignerKind
from services.contract.times import as_utc

_METHODS = {"SMS": "短信验证码意愿认证", "EMAIL": "邮箱验证码意愿认证", "FACE": "人脸识别意愿认证"}
_SIGNED = ("signer.signed", "signer.agreed")
_COMMON = "CJK-GB2312"
_FONT_LOCK = threading.Lock()


@dataclass(frozen=True)
class SignerLine:
    name: str
    role: str
    kind: str
    method: str
    time: datetime | None
    hashes: tuple[tuple[str, str], ...]  # (document id, SHA-256 after this signature)


@dataclass(frozen=True)
class CertificateFacts:
    contract_id: str
    title: str
    biz_no: str
    template: str
    created_at: datetime
    completed_at: datetime
    signers: tuple[SignerLine, ...]
    documents: tuple[tuple[str, str, str], ...]  # (name, document id, final SHA-256)
    audit_seq: int
    audit_head: str
    issued_at: datetime


def _intent_methods(details: dict) -> list[str]:
    # Every method confirmed into the intent; events from before several methods name one.
    methods = details.get("intentMethods")
    if isinstance(methods, list) and methods:
        return [str(m) for m in methods]
    return [str(details["intentMethod"])] if details.get("intentMethod") else []


def _labels(methods: Sequence[str]) -> str:
    # In one order whatever order the token listed them in.
    order = list(_METHODS)
    ranked = sorted(dict.fromkeys(methods), key=lambda m: (order.index(m) if m in _METHODS else len(order), m))
    return "、".join(_METHODS.get(m, m) for m in ranked)


def _method(event: Event) -> str:
    details = event.details
    if event.type == "signer.agreed":
        extra = _labels(_intent_methods(details))
        return "勾选同意（平台存证章）" + (f"，{extra}" if extra else "")
    methods = _intent_methods(details)
    if methods == ["DELEGATION"]:
        grant = details.get("delegation", {})
        grant_id = grant.get("grantId", "") if isinstance(grant, dict) else ""
        return f"委托签署（授权 {grant_id}）"
    return _labels(methods) or "数字签名"


def facts(contract: Contract, events: Sequence[Event], issued_at: datetime) -> CertificateFacts:
    """What the certificate states, from the contract and its audit trail (oldest first)."""
    signed = {e.signer_id: e for e in events if e.type in _SIGNED}
    lines = []
    for signer in contract.signers:
        event = signed.get(signer.signer_id)
        hashes = tuple((str(d.get("documentId", "")), str(d.get("sha256", "")))
                       for d in (event.details.get("documents", []) if event else []) if isinstance(d, dict))
        lines.append(SignerLine(signer.name, signer.role, _kind(signer), _method(event) if event else "未签署",
                                event.time if event else None, hashes))
    completed = next((e.time for e in events if e.type == "contract.completed"), contract.finished_at or issued_at)
    return CertificateFacts(
        contract_id=contract.contract_id, title=contract.title, biz_no=contract.biz_no,
        template=f"{contract.template_id} 第{contract.template_version}版", created_at=contract.created_at,
        completed_at=completed, signers=tuple(lines),
        documents=tuple((d.name, d.document_id, d.sha256) for d in contract.documents),
        audit_seq=events[-1].seq if events else 0, audit_head=events[-1].hash if events else "",
        issued_at=issued_at,
    )


def _kind(signer: Signer) -> str:
    return "企业" if signer.kind is SignerKind.ORG else "个人"


class CertificateRenderer:
    """Draws the certificate with reportlab in the configured CJK font."""

    MARGIN = 56.0

    def __init__(self, font_path: Path, timezone: str, cache_dir: Path):
        self._font_path = font_path
        self._zone = ZoneInfo(timezone)
        self._cache_dir = cache_dir

    def _time(self, moment: datetime | None) -> str:
        if moment is None:
            return "—"
        local = as_utc(moment).astimezone(self._zone)
        offset = local.utcoffset()
        hours = int(offset.total_seconds() // 3600) if offset is not None else 0
        return local.strftime("%Y-%m-%d %H:%M:%S") + f"（UTC{hours:+d}）"

    def warm(self) -> None:
        """Make the common font now (seconds, once per font file), not in a request."""
        self._register("电子合同")

    def render(self, facts: CertificateFacts) -> bytes:
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas

        lines = self._lines(facts)
        font = self._register("".join(text for _, text, _ in lines))
        out = io.BytesIO()
        page = canvas.Canvas(out, pagesize=A4, pageCompression=1)
        page.setTitle(f"签署完成证明 {facts.contract_id}")
        page.setAuthor("电子合同平台")
        page.setSubject(facts.contract_id)
        width, height = A4
        y = height - self.MARGIN
        for style, text, gap in lines:
            face, size = (font, 20) if style == "title" else (font, 13) if style == "heading" else \
                ("Courier", 8) if style == "hash" else (font, 10)
            for piece in self._wrap(text, face, size, width - 2 * self.MARGIN):
                if y < self.MARGIN + size:
                    page.showPage()
                    y = height - self.MARGIN
                page.setFont(face, size)
                if style == "title":
                    page.drawCentredString(width / 2, y, piece)
                else:
                    page.drawString(self.MARGIN + (12 if style == "hash" else 0), y, piece)
                y -= size * 1.45
            y -= gap
        page.save()
        return out.getvalue()

    def _lines(self, facts: CertificateFacts) -> list[tuple[str, str, float]]:
        lines: list[tuple[str, str, float]] = [
            ("title", "电子合同签署完成证明", 12),
            ("heading", "一、合同信息", 2),
            ("text", f"合同编号：{facts.contract_id}", 0),
            ("text", f"合同标题：{facts.title}", 0),
            ("text", f"业务编号：{facts.biz_no or '—'}", 0),
            ("text", f"合同模板：{facts.template}", 0),
            ("text", f"创建时间：{self._time(facts.created_at)}", 0),
            ("text", f"完成时间：{self._time(facts.completed_at)}", 10),
            ("heading", "二、签署方", 2),
        ]
        for number, signer in enumerate(facts.signers, start=1):
            lines.append(("text", f"{number}. {signer.name}（{signer.kind}，角色 {signer.role}）", 0))
            lines.append(("text", f"    签署方式：{signer.method}", 0))
            lines.append(("text", f"    签署时间：{self._time(signer.time)}", 0))
            for document_id, sha256 in signer.hashes:
                lines.append(("text", f"    签署后文件 {document_id} 的 SHA-256：", 0))
                lines.append(("hash", sha256, 0))
            lines[-1] = (*lines[-1][:2], 6.0)
        lines.append(("heading", "三、最终文件", 2))
        for name, document_id, sha256 in facts.documents:
            lines.append(("text", f"{name}（{document_id}）SHA-256：", 0))
            lines.append(("hash", sha256, 4))
        lines += [
            ("heading", "四、审计链", 2),
            ("text", f"事件数：{facts.audit_seq}，链头（第{facts.audit_seq}个事件）SHA-256：", 0),
            ("hash", facts.audit_head, 10),
            ("heading", "五、说明", 2),
            ("text", f"本证明由电子合同平台于{self._time(facts.issued_at)}出具。本证明的 SHA-256、上列最终文件的 SHA-256 及审计链头"
                     "一并记入平台证据日志（RFC 6962 Merkle 树），日志的签名树头由平台时间戳服务（RFC 3161）签署。"
                     "证据包可使用 econtract evidence verify 命令离线校验。", 0),
        ]
        return lines

    def _register(self, text: str) -> str:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        from services.contract import cjk_font

        if cjk_font.covered(text):
            with _FONT_LOCK:
                if _COMMON not in pdfmetrics.getRegisteredFontNames():
                    data = cjk_font.common_font(self._font_path, self._cache_dir)
                    pdfmetrics.registerFont(TTFont(_COMMON, io.BytesIO(data)))
            return _COMMON
        # Rare characters: a font of this text alone, registered under a name of its own
        # (reportlab keeps fonts process-wide, so the set of such names is kept small).
        data = cjk_font.truetype_subset(self._font_path, text)
        name = "CJK-" + hashlib.sha256(data).hexdigest()[:16]
        with _FONT_LOCK:
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))
        return name

    @staticmethod
    def _wrap(text: str, face: str, size: float, width: float) -> list[str]:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        if face == "Courier":
            return [text]  # hashes stay on one line, to be read back whole
        indent = "    " if text.startswith("    ") else ""
        out: list[str] = []
        current = ""
        for char in text:  # CJK text has no spaces to break at: break at any character
            if current and stringWidth(current + char, face, size) > width:
                out.append(current)
                current = indent
            current += char
        out.append(current)
        return out
