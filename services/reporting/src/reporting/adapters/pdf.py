"""Renders a medico-legal report to PDF: a Jinja2 HTML template laid out by WeasyPrint."""

from __future__ import annotations

import asyncio

import jinja2
import weasyprint

from reporting.domain.report import ReportContent

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("reporting", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def render_html(content: ReportContent) -> str:
    return _environment.get_template("report.html.j2").render(r=content)


def render_pdf_sync(content: ReportContent) -> bytes:
    document = weasyprint.HTML(string=render_html(content))
    pdf: bytes = document.write_pdf()
    return pdf


async def render_pdf(content: ReportContent) -> bytes:
    """Layout is CPU-bound; it runs in a worker thread so the service keeps answering."""
    return await asyncio.to_thread(render_pdf_sync, content)
