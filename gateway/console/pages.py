"""Server-rendered pages: Jinja2 templates with autoescaping, texts from the catalogue."""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from gateway.console.display import local_time

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static" / "console"


class Pages:
    def __init__(self, zone: ZoneInfo):
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,  # a misspelt variable is a bug, not an empty string
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["time"] = lambda value: local_time(value, zone)

    def render(self, name: str, context: dict, status: int = 200, headers: dict | None = None) -> HTMLResponse:
        html = self.env.get_template(f"console/{name}").render(context)
        return HTMLResponse(html, status_code=status, headers=headers)
