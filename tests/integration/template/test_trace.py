"""An upload is one trace: gateway → template → filegen, with the template's database work."""
from __future__ import annotations

import time

from opentelemetry.trace import SpanKind

from tests.integration.template.helpers import create
from tests.unit.template.docx_builders import simple_docx

SIGNERS = [{"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]}]


def test_creating_a_template_traces_the_filegen_calls_under_the_template_handler(mesh, uploader):
    reply = create(uploader, simple_docx(["第一条 {{ amount|money }}", "甲方（盖章）："]), signers=SIGNERS)
    assert reply.status_code == 200, reply.text
    trace_id = int(reply.headers["traceparent"].split("-")[1], 16)
    deadline = time.monotonic() + 5
    while True:
        spans = [s for s in mesh.exporter.get_finished_spans() if s.context.trace_id == trace_id]
        if any(s.parent is None for s in spans) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    by_id = {s.context.span_id: s for s in spans}
    handler = next(s for s in spans if s.kind == SpanKind.SERVER and s.name.endswith("TemplateService/CreateTemplate"))

    def under_handler(span) -> bool:
        while span.parent is not None:
            if span.parent.span_id == handler.context.span_id:
                return True
            span = by_id[span.parent.span_id]
        return False

    filegen = [s for s in spans if s.kind == SpanKind.SERVER and "FilegenService" in s.name]
    assert {s.name.rsplit("/", 1)[1] for s in filegen} == {"InspectTemplate", "RenderDocument"}
    assert all(under_handler(s) for s in filegen)
    assert any(under_handler(s) and "INSERT" in s.name for s in spans)
