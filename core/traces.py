"""Reading the local JSON-lines traces back: ``econtract traces show TRACE_ID``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable


def read_spans(trace_dir: Path, trace_id: str | None = None) -> list[dict]:
    spans = []
    for path in sorted(trace_dir.glob("*.jsonl")):
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if trace_id and trace_id not in line:
                    continue  # cheap pre-filter before parsing
                try:
                    span = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash
                if trace_id is None or span["traceId"] == trace_id:
                    spans.append(span)
    return spans


def render_tree(spans: Iterable[dict]) -> str:
    """Spans as an indented tree, children under their parent in start order, with durations."""
    spans = sorted(spans, key=lambda s: s["start"])
    ids = {s["spanId"] for s in spans}
    children: dict[str | None, list[dict]] = {}
    for span in spans:
        parent = span["parentSpanId"] if span["parentSpanId"] in ids else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in children.get(parent, []):
            millis = (span["end"] - span["start"]) / 1e6
            status = "" if span["status"] == "UNSET" or span["status"] == "OK" else f" [{span['status']}]"
            lines.append(f"{'  ' * depth}{span['name']}  ({span['service']}, {millis:.1f} ms){status}")
            walk(span["spanId"], depth + 1)

    walk(None, 0)
    return "\n".join(lines)


def recent_traces(trace_dir: Path, limit: int = 20) -> list[tuple[str, str, float]]:
    """The newest root spans: (trace id, name, duration ms)."""
    roots = [s for s in read_spans(trace_dir) if s["parentSpanId"] is None]
    roots.sort(key=lambda s: s["start"], reverse=True)
    return [(s["traceId"], s["name"], (s["end"] - s["start"]) / 1e6) for s in roots[:limit]]
