"""The HTML report: text from the data is escaped, nothing is fetched, figures are inline."""

from __future__ import annotations

import base64
import dataclasses
import re
import subprocess
import sys

import jinja2
import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.render.html import _environment, render_html
from auditor.result import read_result

EVIL_COLUMN = "<script>alert(1)</script>"
EVIL_LABEL = "<b>x</b>"


@pytest.fixture(scope="module")
def hostile_html() -> str:
    """A report on data whose column name, class label and category value are markup."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            EVIL_COLUMN: rng.normal(size=n),
            "shade": rng.choice([EVIL_LABEL, "plain"], size=n),
        }
    )
    frame.loc[:20, EVIL_COLUMN] = np.nan  # missing values put the column name in the report
    frame["label"] = np.where(rng.random(n) < 0.4, EVIL_LABEL, "ok")
    score = rng.random(n)
    predictions = pd.DataFrame(
        {"prediction": np.where(score > 0.5, EVIL_LABEL, "ok"), f"proba_{EVIL_LABEL}": score}
    )
    result = auditor.audit(test=frame, target="label", predictions=predictions)
    assert result.manifest["classes"] == [EVIL_LABEL, "ok"]
    return render_html(result)


def test_column_name_is_escaped_and_no_script_tag_exists(hostile_html):
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile_html
    assert "<script" not in hostile_html.lower()
    assert EVIL_COLUMN not in hostile_html


def test_class_label_is_escaped(hostile_html):
    assert "&lt;b&gt;x&lt;/b&gt;" in hostile_html
    assert EVIL_LABEL not in hostile_html
    assert "<b>" not in hostile_html


@pytest.mark.parametrize("which", ["hostile", "loans"])
def test_report_references_nothing_outside_itself(which, hostile_html, loans_html):
    html = {"hostile": hostile_html, "loans": loans_html}[which]
    assert re.search(r"https?://", html) is None
    assert "url(" not in html
    assert "<link" not in html.lower()
    assert "@import" not in html
    sources = re.findall(r'\bsrc="([^"]*)"', html)
    assert sources, "the report should have figures"
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    links = re.findall(r'\bhref="([^"]*)"', html)
    assert all(href.startswith("#") for href in links)


def test_figures_are_inline_png(loans_html):
    sources = re.findall(r'<img src="data:image/png;base64,([^"]+)"', loans_html)
    assert len(sources) >= 2  # ROC and precision-recall curves at least
    for encoded in sources:
        assert base64.b64decode(encoded, validate=True).startswith(b"\x89PNG\r\n\x1a\n")


def test_loans_report_is_under_1_mb(loans_html):
    assert len(loans_html.encode("utf-8")) < 1_000_000


def test_environment_autoescapes():
    env = _environment()
    assert env.autoescape is True
    assert env.from_string("{{ v }}").render(v=EVIL_COLUMN) == (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    )


def test_environment_is_strict_about_undefined_names():
    env = _environment()
    assert env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError, match="typo"):
        env.from_string("{{ typo }}").render()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ r.no_such_key }}").render(r={})


def test_report_template_refuses_missing_context():
    with pytest.raises(jinja2.UndefinedError):
        _environment().get_template("report.html.j2").render()


def test_empty_table_says_none_instead_of_a_bare_header(loans_audit):
    """A table without rows says so rather than showing its headers alone."""
    result = read_result(loans_audit.out_dir / "audit.json")
    check = result.check("slices.weak_segments")
    weak = next(t for t in check.tables if t.key == "weak_slices")
    empty = dataclasses.replace(check, tables=(dataclasses.replace(weak, rows=()),))
    html = render_html(dataclasses.replace(result, checks=(empty,)))
    article = html.split('id="slices.weak_segments"', 1)[1].split("</article>", 1)[0]
    table = article.split("Where the model errs most: slices of at most 50% of the rows", 1)[1]
    # 11 columns, the interval's two shown as one.
    assert '<td colspan="10" class="muted">None.</td>' in table.split("</table>", 1)[0]


@pytest.fixture(scope="module")
def small_result(binary_split, binary_model):
    train, test = binary_split
    return auditor.audit(train=train, test=test, target="y", model=binary_model)


def test_guidance_travels_in_the_result_and_older_files_are_upgraded_when_read(
    small_result, tmp_path
):
    """audit.json carries each check's rationale and remedy; a file without them (written
    before they were stored) is upgraded from the registry when read, and renders the same."""
    guidance = small_result.manifest["guidance"]
    assert set(guidance) == {c.id for c in small_result.checks}
    assert all(text["rationale"] and text["remedy"] for text in guidance.values())
    older = dataclasses.replace(
        small_result,
        manifest={k: v for k, v in small_result.manifest.items() if k != "guidance"},
    )
    path = tmp_path / "older.json"
    path.write_text(older.to_json(), encoding="utf-8")
    upgraded = read_result(path)
    assert upgraded.manifest["guidance"] == guidance
    assert render_html(upgraded) == render_html(small_result)


def test_rendering_a_saved_audit_imports_no_check_and_no_data_library(small_result, tmp_path):
    """`auditor render` draws from audit.json alone: no check module, pandas or scipy.stats
    is imported, which keeps re-rendering (and printing the PDF) fast."""
    path = tmp_path / "audit.json"
    path.write_text(small_result.to_json(), encoding="utf-8")
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from auditor.render.html import render_html\n"
        "from auditor.result import read_result\n"
        f"render_html(read_result(Path({str(path)!r})))\n"
        "heavy = [m for m in sys.modules if m.startswith(('auditor.checks', 'pandas', "
        "'scipy.stats', 'sklearn'))]\n"
        "print(sorted(heavy)[:5])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert completed.stdout.strip() == "[]"
