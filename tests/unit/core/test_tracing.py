"""The trace exporter follows ``OTEL_TRACES_EXPORTER``; locally a JSON-lines file by default."""
import os

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from core.settings import SettingsError, load
from core.traces import read_spans
from core.tracing import JsonLinesExporter, make_exporter, make_tracer_provider


@pytest.fixture
def settings(tmp_path):
    return load("gateway", {"ECONTRACT_VAR_DIR": str(tmp_path)})


def test_the_default_writes_spans_to_a_jsonl_file_of_this_process(settings, monkeypatch):
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    provider = make_tracer_provider(settings)
    with provider.get_tracer("test").start_as_current_span("probe") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    assert [p.name for p in settings.trace_dir.iterdir()] == [f"gateway-{os.getpid()}.jsonl"]
    [written] = read_spans(settings.trace_dir, trace_id)
    assert written["name"] == "probe" and written["service"] == "econtract-gateway"


@pytest.mark.parametrize("value,kind", [("jsonl", JsonLinesExporter), ("console", ConsoleSpanExporter),
                                        ("otlp", OTLPSpanExporter), (" OTLP ", OTLPSpanExporter)])
def test_each_named_exporter_is_chosen(settings, monkeypatch, value, kind):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", value)
    exporter = make_exporter(settings, "gateway")
    try:
        assert type(exporter) is kind
    finally:
        exporter.shutdown()  # OTLP opens a channel (lazily; nothing is sent here)


def test_none_exports_nothing(settings, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert make_exporter(settings, "gateway") is None
    provider = make_tracer_provider(settings)
    with provider.get_tracer("test").start_as_current_span("probe"):
        pass
    provider.shutdown()
    assert not settings.trace_dir.exists() or not any(settings.trace_dir.iterdir())


def test_an_unknown_exporter_fails_fast_naming_the_variable_and_the_choices(settings, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(SettingsError, match=r"OTEL_TRACES_EXPORTER='zipkin' is not one of otlp, console, jsonl, none"):
        make_exporter(settings, "gateway")
