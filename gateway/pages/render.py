"""Server-rendered pages: Jinja2 templates with autoescaping, texts from the catalogue."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


class Renderer:
    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,  # a misspelt variable is a bug, not an empty string
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, context: dict, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
        html = self.env.get_template(f"sign/{name}").render(context)
        return HTMLResponse(html, status_code=status, headers=headers)
