"""The PDF report: weasyprint on the same HTML, with the print stylesheet and no network.

weasyprint draws text with system libraries (Pango, HarfBuzz, fontconfig) that pip cannot
install. Their absence is a problem of the machine, not a bug: it is reported as one line
naming the Debian/Ubuntu package to install (exit 2), before any audit work is done.
``libharfbuzz-subset0`` is optional: without it fonts are embedded whole, so PDFs are larger.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import re
import warnings
from pathlib import Path
from types import ModuleType

from auditor.errors import MissingSystemLibraryError
from auditor.render.html import render_html
from auditor.result import AuditResult

logger = logging.getLogger("auditor")

# The names weasyprint asks the dynamic loader for, and the Debian/Ubuntu package of each.
_DEBIAN_PACKAGES = {
    "gobject": "libglib2.0-0",
    "pangoft2": "libpangoft2-1.0-0",
    "pango": "libpango-1.0-0",
    "harfbuzz": "libharfbuzz0b",
    "fontconfig": "libfontconfig1",
}
_ALL_PACKAGES = " ".join(dict.fromkeys(_DEBIAN_PACKAGES.values()))


def render_pdf(result: AuditResult, template_dir: Path | None = None) -> bytes:
    """Render ``result`` as PDF bytes, with the templates of ``template_dir`` if given."""
    return print_html(render_html(result, template_dir))


def print_html(html: str) -> bytes:
    """Print the report's HTML to PDF bytes with its print stylesheet.

    The URL fetcher only accepts ``data:`` URIs (the inline figures): the report cannot make
    weasyprint read a local file or reach the network, whatever text the data contains.
    """
    weasyprint = load_weasyprint()
    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
    return weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf()


@functools.cache
def load_weasyprint() -> ModuleType:
    """Import weasyprint, or raise MissingSystemLibraryError naming the package to install.

    Called before an audit that asks for a PDF, so a machine without Pango fails in a second
    rather than after the checks have run. Cached: the note about font subsetting is said once.
    """
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        # Without libharfbuzz-subset0 weasyprint warns on import that a future version will
        # need it; today's PDFs are correct, only larger. weasyprint also prints an
        # installation banner to stdout when a library is missing: the error below says it.
        warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
        try:
            import weasyprint
        except OSError as exc:
            raise MissingSystemLibraryError(_missing_library_message(str(exc))) from None
    from weasyprint.text import ffi

    if ffi.harfbuzz_subset is None:
        logger.warning(
            "libharfbuzz-subset0 is not installed, so the PDF embeds whole fonts (larger "
            "files). On Debian/Ubuntu: apt-get install libharfbuzz-subset0."
        )
    return weasyprint


def _missing_library_message(loader_error: str) -> str:
    quoted = re.search(r"library '([^']+)'", loader_error)
    library = quoted.group(1) if quoted else loader_error.split(":")[0]
    package = next(
        (pkg for key, pkg in _DEBIAN_PACKAGES.items() if key in library.lower()), _ALL_PACKAGES
    )
    return (
        f"PDF output needs the system library {library!r}, which is not installed. "
        f"On Debian/Ubuntu: apt-get install {package}; or leave pdf out of --format."
    )
