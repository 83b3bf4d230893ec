"""Where the HTML report's templates come from, and what a rendered report may contain.

The built-in templates answer to two names: ``report.html.j2`` and ``auditor/report.html.j2``.
A ``--template-dir`` (config ``[report] templates``) is searched first for plain names, so its
``report.html.j2`` replaces the built-in one and reaches the original by its prefixed name:
a branded report is ``{% extends "auditor/report.html.j2" %}`` and a few blocks.

User templates are code from outside the package, so they render in jinja's sandbox with
the same autoescaping as the built-in ones, and every rendered report (built-in or not) must
be self-contained: no script, nothing fetched from a URL. A template that breaks either rule,
does not parse or names a template that does not exist is an input error (exit 2) of one
line naming the file and line.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from auditor.errors import InputError

BUILTIN_PREFIX = "auditor"
REPORT_TEMPLATE = "report.html.j2"
# Images a template may inline from its folder, and how large (the report stays small).
_IMAGE_TYPES = {".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp"}
_MAX_IMAGE_BYTES = 512 * 1024
# Attributes whose value the browser (or weasyprint) fetches.
_FETCHED_ATTRIBUTES = {"src", "srcset", "poster", "data", "background", "action", "formaction"}


def report_loader(template_dir: Path | None):
    """The built-in templates under both names, after ``template_dir``'s for plain names."""
    from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader

    builtin = PackageLoader("auditor", "report_templates")
    own = [] if template_dir is None else [FileSystemLoader(str(template_dir))]
    return ChoiceLoader([PrefixLoader({BUILTIN_PREFIX: builtin}), *own, builtin])


def checked_template_dir(value: str | Path, flag: str = "--template-dir") -> Path:
    """``value`` as a folder holding a ``report.html.j2``, or InputError saying what to fix."""
    path = Path(value)
    if not path.is_dir():
        raise InputError(
            f"{flag} {str(value)!r} is not a folder. Pass the folder that holds your "
            f"{REPORT_TEMPLATE} (see report_templates/ in the auditor repository)."
        )
    if not (path / REPORT_TEMPLATE).is_file():
        raise InputError(
            f"{flag} {str(value)!r} has no {REPORT_TEMPLATE}. Add one that starts with "
            f'{{% extends "{BUILTIN_PREFIX}/{REPORT_TEMPLATE}" %}}.'
        )
    return path


def image_inliner(template_dir: Path):
    """The ``inline_image(name)`` template function: a file of ``template_dir`` as a data URI.

    The report must not fetch anything, so a logo travels inside it; only image files
    directly in the template folder (or below it) can be read.
    """
    from jinja2.exceptions import TemplateRuntimeError

    root = template_dir.resolve()

    def inline_image(name: str) -> str:
        path = (root / str(name)).resolve()
        if not path.is_relative_to(root) or path.suffix.lower() not in _IMAGE_TYPES:
            raise TemplateRuntimeError(
                f"inline_image({name!r}) takes the name of a {', '.join(sorted(_IMAGE_TYPES))} "
                "file inside the template folder"
            )
        if not path.is_file():
            raise TemplateRuntimeError(f"inline_image({name!r}): no such file in {str(root)!r}")
        data = path.read_bytes()
        if len(data) > _MAX_IMAGE_BYTES:
            raise TemplateRuntimeError(
                f"inline_image({name!r}) is {len(data):,} bytes; a report image may have "
                f"{_MAX_IMAGE_BYTES:,}"
            )
        media = "image/svg+xml" if path.suffix.lower() == ".svg" else mimetypes.guess_type(path)[0]
        return f"data:{media};base64,{base64.b64encode(data).decode('ascii')}"

    return inline_image


def render_report(env, context: Mapping[str, Any], template_dir: Path | None) -> str:
    """Render ``report.html.j2`` and check that the page is self-contained.

    Template errors become InputError naming the template file and line.
    """
    from jinja2 import TemplateError

    try:
        html = env.get_template(REPORT_TEMPLATE).render(**context)
    except TemplateError as exc:
        raise InputError(_template_error(exc, template_dir)) from None
    check_self_contained(html, template_dir)
    return html


def _template_error(exc: Exception, template_dir: Path | None) -> str:
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    if isinstance(exc, TemplateSyntaxError) and exc.lineno:
        where = f"{_shown_name(exc.filename or exc.name or '?', template_dir)}, line {exc.lineno}"
    else:
        # jinja rewrites the traceback so that template frames carry the template's file
        # name and line: the innermost one is where the template failed.
        where, tb = "", exc.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if not filename.endswith(".py"):
                where = f"{_shown_name(filename, template_dir)}, line {tb.tb_lineno}"
            tb = tb.tb_next
    message = str(exc).strip() or type(exc).__name__
    if isinstance(exc, TemplateNotFound):
        message = f"template {exc.name!r} not found"
    message = " ".join(message.split())
    source = (
        "the report template" if template_dir is None else f"--template-dir {str(template_dir)!r}"
    )
    return f"{source}: {where or 'while rendering'}: {message}. Fix the template and run again" + (
        "." if template_dir is None else " (auditor render audit.json re-renders a saved audit)."
    )


def _shown_name(filename: str, template_dir: Path | None) -> str:
    """A template file as a reader finds it: relative to the template folder, or its
    built-in name ``auditor/<name>``."""
    path = Path(filename)
    if template_dir is not None and path.resolve().is_relative_to(template_dir.resolve()):
        return str(path.resolve().relative_to(template_dir.resolve()))
    if "report_templates" in path.parts:
        return f"{BUILTIN_PREFIX}/{path.name}"
    return filename


def check_self_contained(html: str, template_dir: Path | None) -> None:
    """Raise InputError if the page runs script or fetches anything: it must open offline,
    print to PDF without the network, and pass a strict Content-Security-Policy."""
    policy = _ReportPolicy()
    policy.feed(html)
    policy.close()
    if policy.problem is None:
        return
    source = (
        "the report"
        if template_dir is None
        else f"the report from --template-dir {str(template_dir)!r}"
    )
    raise InputError(
        f"{source} {policy.problem} (line {policy.line} of the HTML); a report must be "
        "self-contained with no script: inline images with inline_image('logo.png') or a "
        "data: URI and remove scripts and links to other sites from the template."
    )


class _ReportPolicy(HTMLParser):
    """Finds the first script or URL fetch in a page. Text from the data is escaped before
    it gets here, so only markup a template wrote can be a tag or an attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problem: str | None = None
        self.line = 0
        self._in_style = False

    def _refuse(self, problem: str) -> None:
        if self.problem is None:
            self.problem, self.line = problem, self.getpos()[0]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "iframe", "object", "embed", "base"}:
            self._refuse(f"contains a <{tag}> element")
        self._in_style = tag == "style"
        for name, value in attrs:
            value = (value or "").strip()
            lowered = value.lower()
            if name.startswith("on"):
                self._refuse(f"has an event handler ({name} on <{tag}>)")
            elif lowered.startswith("javascript:"):
                self._refuse(f"has a javascript: URL ({name} of <{tag}>)")
            elif name in _FETCHED_ATTRIBUTES and value and not lowered.startswith("data:"):
                self._refuse(f"loads {value[:80]!r} ({name} of <{tag}>)")
            elif name == "href" and value and not lowered.startswith(("#", "mailto:")):
                self._refuse(f"links to {value[:80]!r} (href of <{tag}>)")
            elif name == "style":
                self._check_css(value)

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._check_css(data)

    def _check_css(self, css: str) -> None:
        if re.search(r"@import", css, re.IGNORECASE):
            self._refuse("imports a stylesheet (@import)")
        for found in re.finditer(r"url\(\s*['\"]?\s*([^'\")\s]*)", css, re.IGNORECASE):
            target = found.group(1)
            if not target.lower().startswith(("data:", "#")):
                self._refuse(f"loads {target[:80]!r} (a CSS url())")


def check_templates(template_dir: Path) -> None:
    """Render ``template_dir``'s report once on an audit of no checks, so that a template
    that does not parse, names a missing template or breaks the policy above is refused
    (InputError, file and line) before an audit spends its time."""
    from auditor._version import __version__
    from auditor.render.html import render_html
    from auditor.result import AuditResult

    empty = AuditResult(
        tool={"name": "auditor", "version": __version__},
        created_at="1970-01-01T00:00:00Z",
        task="binary",
        target="target",
        verdict="pass",
        checks=(),
        inputs=(),
        gate=None,
        manifest={},
    )
    render_html(empty, template_dir)
