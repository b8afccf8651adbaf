import json

from core.traces import read_spans, render_tree


def _span(span_id, parent, name, service, start, end, trace="a" * 32):
    return {"traceId": trace, "spanId": span_id, "parentSpanId": parent, "name": name, "service": service,
            "kind": "SERVER", "start": start, "end": end, "status": "UNSET", "attributes": {}}


def test_tree_nests_children_under_parents_in_start_order(tmp_path):
    spans = [
        _span("3", "1", "IdentityService/Check", "econtract-identity", 30, 40),
        _span("1", None, "GET /healthz", "econtract-gateway", 0, 100_000_000),
        _span("2", "1", "TemplateService/Check", "econtract-template", 10, 20),
        _span("4", "2", "SELECT", "econtract-template", 12, 15),
    ]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans[:2]))
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans[2:]) + '{"cut short')
    read = read_spans(tmp_path, "a" * 32)
    assert len(read) == 4
    lines = render_tree(read).splitlines()
    assert lines[0].startswith("GET /healthz  (econtract-gateway, 100.0 ms)")
    assert lines[1].startswith("  TemplateService/Check")
    assert lines[2].startswith("    SELECT")
    assert lines[3].startswith("  IdentityService/Check")


def test_other_traces_are_left_out(tmp_path):
    spans = [_span("1", None, "x", "s", 0, 1), _span("2", None, "y", "s", 0, 1, trace="b" * 32)]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans))
    assert [s["name"] for s in read_spans(tmp_path, "b" * 32)] == ["y"]
