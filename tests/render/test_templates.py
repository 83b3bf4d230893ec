"""Branded reports: user templates extend the built-in one in a sandbox, and a report that
would run script or fetch a URL, or a template that is broken, is refused with one line."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _system_tools import require_program
from auditor.cli.app import app
from auditor.render.html import render_html
from auditor.result import read_result
from auditor.spec import spec_from_mapping

REPO = Path(__file__).resolve().parents[2]
BRANDED = REPO / "report_templates" / "branded"
EXTENDS = '{% extends "auditor/report.html.j2" %}\n'


@pytest.fixture(scope="module")
def loans_json(loans_audit) -> Path:
    assert loans_audit.exit_code in (0, 1), loans_audit.stdout + loans_audit.stderr
    return loans_audit.out_dir / "audit.json"


def template_dir(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "report.html.j2").write_text(body, encoding="utf-8")
    return folder


def render(audit_json: Path, folder: Path, out: Path, fmt: str = "html"):
    return CliRunner().invoke(
        app,
        ["render", str(audit_json), "--format", fmt, "-o", str(out), "--template-dir", str(folder)],
    )


def test_a_template_that_only_extends_renders_the_default_report_byte_for_byte(
    loans_json, tmp_path
):
    """Every block's default content is what stood in its place: the split changed nothing."""
    result = read_result(loans_json)
    assert render_html(result, template_dir(tmp_path, EXTENDS)) == render_html(result)


def test_the_blocks_add_nothing_to_the_default_report(loans_json, tmp_path):
    """The built-in template with its block tags taken out renders the same bytes."""
    builtin = (REPO / "src/auditor/report_templates/report.html.j2").read_text(encoding="utf-8")
    tag = r"{% (?:block \w+(?: scoped)?|endblock) %}"
    unsplit = re.sub(tag, "", re.sub(rf"(?m)^[ \t]*(?:{tag})+\n", "", builtin))
    assert "{% block" not in unsplit
    assert "{% endblock" not in unsplit
    result = read_result(loans_json)
    assert render_html(result, template_dir(tmp_path, unsplit)) == render_html(result)


def test_branded_html_has_the_logo_colours_and_disclaimer(loans_json):
    html = render_html(read_result(loans_json), BRANDED)
    logo = base64.b64encode((BRANDED / "logo.png").read_bytes()).decode()
    assert f'<img src="data:image/png;base64,{logo}" alt="Northwind Lending">' in html
    assert "--brand: #0b5563" in html
    assert "not a regulatory approval" in html
    # The built-in report is all there, its policy too.
    assert html.count("Content-Security-Policy") == 1
    assert 'id="inputs"' in html


@pytest.mark.slow
def test_branded_pdf_prints_the_logo_and_disclaimer(loans_json, tmp_path):
    pdftotext = require_program("pdftotext", "poppler-utils")
    pdfimages = require_program("pdfimages", "poppler-utils")
    pdf = tmp_path / "report.pdf"
    ran = render(loans_json, BRANDED, pdf, fmt="pdf")
    assert ran.exit_code == 0, ran.stderr
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = [page for page in text.split("\f") if page.strip()]
    # On paper the brand bar is a running element: the top margin of every page.
    assert all("INTERNAL · MODEL RISK REVIEW" in page for page in pages)
    assert "not a regulatory approval" in " ".join(text.split())
    listed = subprocess.run(
        [pdfimages, "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    # page num type width height ...: the 720 x 160 logo is on every page.
    logo_pages = {
        int(fields[0])
        for fields in (line.split() for line in listed.splitlines()[2:])
        if fields[2] == "image" and fields[3:5] == ["720", "160"]
    }
    assert logo_pages == set(range(1, len(pages) + 1))


@pytest.mark.parametrize(
    ("markup", "said"),
    [
        ("<script>alert(1)</script>", "<script>"),
        ('<img src="https://cdn.example.com/logo.png" alt="">', "https://cdn.example.com"),
        ('<a href="http://example.com/terms">terms</a>', "http://example.com/terms"),
        ('<p style="background: url(//example.com/x.png)">x</p>', "//example.com/x.png"),
        ('<img src="data:image/png;base64,AA" onerror="alert(1)" alt="">', "onerror"),
    ],
    ids=["script", "external-img", "external-link", "css-url", "event-handler"],
)
def test_a_report_with_script_or_an_external_url_is_refused_with_one_line(
    loans_json, tmp_path, markup, said
):
    folder = template_dir(tmp_path, EXTENDS + "{% block brand %}" + markup + "{% endblock %}")
    out = tmp_path / "report.html"
    ran = render(loans_json, folder, out)
    assert ran.exit_code == 2
    (line,) = ran.stderr.strip().splitlines()
    assert said in line
    assert "self-contained" in line
    assert not out.exists()


def test_in_page_anchors_and_mail_links_are_allowed(loans_json, tmp_path):
    links = '<a href="#inputs">inputs</a> <a href="mailto:risk@example.com">risk</a>'
    folder = template_dir(tmp_path, EXTENDS + "{% block brand %}" + links + "{% endblock %}")
    assert links in render_html(read_result(loans_json), folder)


@pytest.mark.parametrize(
    ("body", "where", "said"),
    [
        (EXTENDS + "\n{% block brand %}{{ oops( }}{% endblock %}\n", "line 3", "unexpected"),
        ('{% extends "auditor/no_such.html.j2" %}\n', "line 1", "'auditor/no_such.html.j2'"),
        (EXTENDS + "{% block brand %}\n{{ r.__class__ }}{% endblock %}", "line 3", "unsafe"),
        (EXTENDS + "{% block brand %}\n{{ no_such_name }}{% endblock %}", "line 3", "undefined"),
        (
            EXTENDS + "{% block brand %}<img src=\"{{ inline_image('../x.png') }}\">{% endblock %}",
            "line 2",
            "inside the template folder",
        ),
    ],
    ids=["syntax-error", "missing-template", "sandbox", "undefined-name", "image-outside"],
)
def test_a_broken_template_names_its_file_and_line_exit_2(loans_json, tmp_path, body, where, said):
    folder = template_dir(tmp_path, body)
    out = tmp_path / "report.html"
    ran = render(loans_json, folder, out)
    assert ran.exit_code == 2
    (line,) = ran.stderr.strip().splitlines()
    assert f"report.html.j2, {where}" in line
    assert said in line
    assert not out.exists()


def test_a_template_folder_without_report_template_is_refused(loans_json, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    ran = render(loans_json, folder, tmp_path / "report.html")
    assert ran.exit_code == 2
    assert "has no report.html.j2" in ran.stderr


def test_audit_refuses_a_broken_template_before_it_runs(loans, tmp_path):
    folder = template_dir(tmp_path, EXTENDS + "{% block brand %}<script></script>{% endblock %}")
    out_dir = tmp_path / "out"
    ran = CliRunner().invoke(
        app,
        ["audit", "--config", str(loans["config"]), "--out-dir", str(out_dir)]
        + ["--format", "html", "--template-dir", str(folder)],
    )
    assert ran.exit_code == 2
    assert "<script>" in ran.stderr
    assert not out_dir.exists()


def test_user_templates_autoescape_text_from_the_data(loans_json, tmp_path):
    folder = template_dir(
        tmp_path, EXTENDS + "{% block brand %}<p>{{ r.target ~ '<b>x</b>' }}</p>{% endblock %}"
    )
    html = render_html(read_result(loans_json), folder)
    assert "<p>default&lt;b&gt;x&lt;/b&gt;</p>" in html


def test_config_templates_are_relative_to_the_config_file(tmp_path):
    spec = spec_from_mapping(
        {"report": {"templates": "brand"}}, where="audit.toml", base_dir=tmp_path
    )
    assert spec.templates == str(tmp_path / "brand")


def test_the_branded_example_documents_its_blocks():
    """report_templates/README.md names every block the built-in report offers."""
    builtin = (REPO / "src/auditor/report_templates/report.html.j2").read_text(encoding="utf-8")
    blocks = re.findall(r"{% block (\w+)", builtin)
    readme = (REPO / "report_templates" / "README.md").read_text(encoding="utf-8")
    assert blocks
    assert [b for b in blocks if f"`{b}`" not in readme] == []
