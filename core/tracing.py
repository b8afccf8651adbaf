"""OpenTelemetry set-up for one process.

The exporter follows the standard ``OTEL_TRACES_EXPORTER`` variable: ``otlp`` (production,
to a collector, configured by the usual ``OTEL_EXPORTER_OTLP_*`` variables), ``console``,
``none``, or — the local default — ``jsonl``: one JSON object per finished span, appended
to a per-process file under ``var/traces/``, read back by ``econtract traces show``.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)

from core.settings import Settings


class JsonLinesExporter(SpanExporter):
    """Appends finished spans to a JSON-lines file (one file per process: no interleaving)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(span), ensure_ascii=False) + "\n" for span in spans)
        with self._lock, open(self._path, "a", encoding="utf-8") as out:
            out.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def span_record(span: ReadableSpan) -> dict:
    ctx = span.get_span_context()
    return {
        "traceId": format(ctx.trace_id, "032x"),
        "spanId": format(ctx.span_id, "016x"),
        "parentSpanId": format(span.parent.span_id, "016x") if span.parent else None,
        "name": span.name,
        "service": span.resource.attributes.get(SERVICE_NAME, ""),
        "kind": span.kind.name,
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
    }


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def make_exporter(settings: Settings, name: str) -> SpanExporter | None:
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "jsonl").split(",")[0].strip().lower()
    if choice == "none":
        return None
    if choice == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if choice == "console":
        return ConsoleSpanExporter()
    if choice != "jsonl":
        from core.settings import SettingsError

        raise SettingsError(f"OTEL_TRACES_EXPORTER={choice!r} is not one of otlp, console, jsonl, none")
    return JsonLinesExporter(settings.trace_dir / f"{name}-{os.getpid()}.jsonl")


def make_tracer_provider(settings: Settings, exporter: SpanExporter | None = None) -> TracerProvider:
    """This process's tracer provider; the entry point installs it as the global one."""
    name = os.environ.get("OTEL_SERVICE_NAME") or f"econtract-{settings.component}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    exporter = exporter if exporter is not None else make_exporter(settings, settings.component)
    if exporter is not None:
        # A short default delay so a developer sees a trace a moment after the request.
        delay = int(os.environ.get("OTEL_BSP_SCHEDULE_DELAY", "500"))
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=delay))
    return provider


def instrument_redis(provider: TracerProvider) -> None:
    """Spans for this process's Redis commands, sync and asyncio clients alike (arguments are
    replaced by ``?``). The instrumentation patches the client classes, so once per process."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentor = RedisInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""
