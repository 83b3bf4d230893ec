"""The ``auditor`` command line.

Only typer is imported at module level: data, model and report libraries load inside the
commands, so ``auditor --help`` is instant. Exit codes: 0 the gate passed, 1 the gate
failed, 2 bad input or usage (one line, nothing written), 3 internal error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from auditor import keys
from auditor._version import __version__
from auditor.errors import InputError, RenderError

EXIT_PASS, EXIT_GATE_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

app = typer.Typer(
    name="auditor",
    help="Audit a trained model before it ships: data, leakage, metrics with intervals, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class _Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that every cleanup on the way out runs."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


class _TimedOut(BaseException):
    """--timeout expired; a BaseException so that no check or renderer swallows it."""


def exits_cleanly(command: Callable[..., int]) -> Callable[..., None]:
    """Map input errors to exit 2 with one line, crashes to exit 3, signals to 128 + signal."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        on_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_terminated) if on_main_thread else None
        try:
            code = command(*args, **kwargs)
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except _TimedOut as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except (KeyboardInterrupt, _Terminated) as exc:
            name = "SIGTERM" if isinstance(exc, _Terminated) else "SIGINT"
            typer.echo(
                f"interrupted by {name}: each output folder holds either the complete new set "
                "of reports or what it held before.",
                err=True,
            )
            raise typer.Exit(
                128 + (signal.SIGTERM if name == "SIGTERM" else signal.SIGINT)
            ) from None
        except RenderError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_INTERNAL) from None
        except BrokenPipeError:
            # The reader (`auditor checks | head`) has gone: stop quietly, as cat would.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(128 + signal.SIGPIPE) from None
        except typer.Exit:
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence, exit 3
            import traceback

            traceback.print_exc(file=sys.stderr)
            typer.echo(
                f"internal error: {type(exc).__name__}: {exc}. This is a bug in auditor; "
                "please report it with the traceback above.",
                err=True,
            )
            raise typer.Exit(EXIT_INTERNAL) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        raise typer.Exit(code)

    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"auditor {__version__}")
        raise typer.Exit()


class _StderrHandler(logging.Handler):
    """Notes from the library (``logging.getLogger("auditor")``) as plain lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(f"note: {record.getMessage()}", err=True)


def _show_notes_on_stderr() -> None:
    """auditor's own notes go to stderr; library warnings (numpy, scikit-learn) do not.

    A RuntimeWarning from numpy deep inside a check says nothing a user can act on, and
    printed before an ``error:`` line it breaks the one-line contract of exit 2. Checks that
    care record the warnings they see in their findings.
    """
    auditor_logger = logging.getLogger("auditor")
    if not any(isinstance(h, _StderrHandler) for h in auditor_logger.handlers):
        auditor_logger.addHandler(_StderrHandler(logging.WARNING))
    auditor_logger.propagate = False
    logging.captureWarnings(True)
    library_warnings = logging.getLogger("py.warnings")
    if not library_warnings.handlers:
        library_warnings.addHandler(logging.NullHandler())
    library_warnings.propagate = False


class _ProgressHandler(logging.Handler):
    """Progress steps with the time since the command started."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.started = time.perf_counter()

    def emit(self, record: logging.LogRecord) -> None:
        elapsed = time.perf_counter() - self.started
        typer.echo(f"[{elapsed:6.1f}s] {record.getMessage()}", err=True)


def _show_progress(progress: bool | None, quiet: bool) -> None:
    """Progress on stderr when asked, or by default when a person watches a terminal.

    CI logs (the CI variable set, or stderr not a terminal) stay quiet unless asked;
    ``--quiet`` hides progress and notes alike.
    """

    if progress is None:
        progress = sys.stderr.isatty() and not os.environ.get("CI")
    progress_logger = logging.getLogger("auditor.progress")
    for handler in [h for h in progress_logger.handlers if isinstance(h, _ProgressHandler)]:
        progress_logger.removeHandler(handler)
    progress_logger.propagate = False
    progress_logger.setLevel(logging.INFO if progress and not quiet else logging.WARNING)
    if progress and not quiet:
        progress_logger.addHandler(_ProgressHandler())
    logging.getLogger("auditor").setLevel(logging.ERROR if quiet else logging.WARNING)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Audit a trained model before it ships."""
    _show_notes_on_stderr()


def _formats(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())


@app.command()
@exits_cleanly
def audit(
    test: Annotated[
        str | None,
        typer.Option(
            help="Test data (CSV or Parquet): the rows to evaluate. With --engine dask: a "
            "Parquet directory, glob or fsspec URL."
        ),
    ] = None,
    train: Annotated[str | None, typer.Option(help="Training data (CSV or Parquet).")] = None,
    target: Annotated[str | None, typer.Option(help="The label column.")] = None,
    model: Annotated[
        Path | None, typer.Option(help="Fitted model (.skops; pickle needs --trust-model).")
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            help="Instead of a model: a file with 'prediction' and proba_<class> columns."
        ),
    ] = None,
    baseline_model: Annotated[
        Path | None,
        typer.Option(
            help="A fitted baseline model the model must beat (.skops; pickle needs --trust-model)."
        ),
    ] = None,
    challenger: Annotated[
        list[Path] | None,
        typer.Option(
            help="Another candidate model to compare on the same test rows (repeatable; "
            ".skops; pickle needs --trust-model)."
        ),
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="binary, multiclass or regression (default: inferred).")
    ] = None,
    positive_class: Annotated[
        str | None, typer.Option(help="The positive class of a binary task.")
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Row or entity identifier column.")] = None,
    group_column: Annotated[
        str | None, typer.Option(help="Group (entity) column for grouped splits.")
    ] = None,
    time_column: Annotated[
        str | None, typer.Option(help="Time column for temporal checks.")
    ] = None,
    sensitive: Annotated[
        list[str] | None, typer.Option(help="Sensitive column for group metrics (repeatable).")
    ] = None,
    favourable_class: Annotated[
        str | None,
        typer.Option(
            help="The class that is the favourable outcome (loan approved): group selection "
            "rates and their ratios are of this class (default: the positive class)."
        ),
    ] = None,
    weight_column: Annotated[
        str | None,
        typer.Option(help="Sample-weight column: every metric, interval and rate is weighted."),
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option(help="A pandera YAML schema to validate train and test against."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="audit.toml, or a pyproject.toml with [tool.auditor].")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="Where reports go (default: reports/).")
    ] = None,
    format: Annotated[  # noqa: A002 - the flag is --format in the documented CLI
        str | None,
        typer.Option(
            "--format",
            help="Comma-separated: html,pdf,json,junit,md,card (default: html,json); card "
            "writes model_card.md and model_card.json.",
        ),
    ] = None,
    template_dir: Annotated[
        Path | None,
        typer.Option(
            help="A folder of report templates used before the built-in ones: its "
            'report.html.j2 can extend "auditor/report.html.j2" (branded HTML and PDF).'
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for every random choice (default 0).")
    ] = None,
    trust_model: Annotated[
        bool | None,
        typer.Option(
            "--trust-model",
            help="Allow pickle/joblib models. They can run code: only trusted files.",
        ),
    ] = None,
    n_jobs: Annotated[
        int | None, typer.Option(help="Parallel processes for refits (-1: all cores).")
    ] = None,
    select: Annotated[
        list[str] | None, typer.Option(help="Run only these check ids or categories (repeatable).")
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option(help="Do not run these check ids or categories (repeatable)."),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail the gate too.")] = False,
    mlflow: Annotated[
        bool,
        typer.Option("--mlflow", help="Log metrics, verdict and reports to the active MLflow run."),
    ] = False,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Show long steps on stderr (default: on a terminal, off in CI).",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="No progress and no notes on stderr; errors only.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Stop with exit 2, writing nothing, if the audit takes longer (seconds)."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="memory (default) or dask: partitioned Parquet on a Dask cluster "
            "(pip install 'auditor[dask]'; see docs/scale.md)."
        ),
    ] = None,
    engine_address: Annotated[
        str | None,
        typer.Option(
            help="With --engine dask: a running scheduler, tcp://host:8786 "
            "(default: a local cluster sized to this machine)."
        ),
    ] = None,
) -> int:
    """Audit a model (or its predictions) on test data, write reports, and apply the gate."""
    _show_progress(progress, quiet)
    from auditor.api import run_audit
    from auditor.io.atomic import check_out_dir
    from auditor.render import ensure_renderable
    from auditor.spec import load_spec

    spec = load_spec(config).with_overrides(
        test=test,
        train=train,
        target=target,
        model=None if model is None else str(model),
        predictions=None if predictions is None else str(predictions),
        baseline_model=None if baseline_model is None else str(baseline_model),
        challengers=tuple(str(path) for path in challenger) if challenger else None,
        task=task,
        positive_class=positive_class,
        id=id_column,
        group=group_column,
        time=time_column,
        sensitive=tuple(sensitive) if sensitive else None,
        weight=weight_column,
        schema=None if schema is None else str(schema),
        out_dir=None if out_dir is None else str(out_dir),
        formats=_formats(format),
        templates=None if template_dir is None else str(template_dir),
        seed=seed,
        trust_model=trust_model,
        n_jobs=n_jobs,
        engine=engine,
        engine_address=engine_address,
    )
    spec = spec.with_check_params(keys.GROUP_METRICS, favourable_class=favourable_class)
    if skip:
        spec = dataclasses.replace(spec, skip=(*spec.skip, *skip))
    if strict and "warn" not in spec.gate.fail_on:
        spec = dataclasses.replace(
            spec, gate=dataclasses.replace(spec.gate, fail_on=(*spec.gate.fail_on, "warn"))
        )
    check_out_dir(spec.out_dir)
    ensure_renderable(spec.formats, spec.templates)
    with _time_limit(timeout):
        result = run_audit(spec, select=select, command=_command_line())
        return _report(
            result, Path(spec.out_dir), spec.formats, mlflow=mlflow, template_dir=spec.templates
        )


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Stop the block (exit 2, nothing written) when it runs longer than ``seconds``.

    SIGALRM interrupts Python code between steps; a single long call into compiled code
    (one huge predict) ends before the limit is noticed. Reports are swapped in with the
    alarm held back, so a timeout leaves the old set or the new one, never a mix.
    """
    if seconds is None:
        yield
        return
    if not math.isfinite(seconds) or seconds <= 0:
        raise InputError(f"--timeout {seconds!r} must be a positive number of seconds.")
    from auditor.progress import current_step

    def expire(signum: int, frame: Any) -> None:
        raise _TimedOut(
            f"The audit did not finish within --timeout {seconds:g} s (it was at: "
            f"{current_step()}). Raise --timeout, --skip slow checks, or use --n-jobs."
        )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _report(
    result: Any,
    out_dir: Path,
    formats: tuple[str, ...],
    *,
    mlflow: bool = False,
    template_dir: str | None = None,
) -> int:
    from auditor.render import write_reports

    try:
        written, failed = write_reports(result, out_dir, formats, template_dir), None
    except RenderError as exc:
        written, failed = exc.written, exc
    _append_step_summary(result)
    if mlflow:
        from auditor.tracking import log_to_mlflow

        typer.echo(f"Logged to MLflow run {log_to_mlflow(result, written)}")
    for check in result.checks:
        typer.echo(f"  {check.status.upper():8} {check.id}: {check.summary}")
    typer.echo(f"Verdict: {result.verdict.upper()}")
    if result.gate is not None:
        typer.echo("Gate: passed" if result.gate.passed else "Gate: FAILED")
        for reason in result.gate.reasons:
            typer.echo(f"  - {reason}")
    for path in written:
        typer.echo(f"Wrote {path}")
    if failed is not None:
        raise failed
    return result.exit_code


def _append_step_summary(result: Any) -> None:
    """On GitHub Actions, add the Markdown summary to the job's page."""

    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary_path:
        return
    from auditor.render.markdown import render_markdown

    try:
        with open(summary_path, "a", encoding="utf-8") as handle:
            handle.write(render_markdown(result) + "\n")
    except OSError as exc:
        # The reports are written; a job summary CI cannot take is worth a note, not a failure.
        logging.getLogger("auditor").warning(
            f"could not add the summary to GITHUB_STEP_SUMMARY ({exc.strerror or exc}); "
            "the reports were written."
        )


def _command_line() -> str:
    """argv with file arguments reduced to their names: the result holds no absolute paths."""
    return " ".join(
        ["auditor", *(Path(a).name if Path(a).is_absolute() else a for a in sys.argv[1:])]
    )


@app.command()
@exits_cleanly
def render(
    audit_json: Annotated[Path, typer.Argument(help="An audit.json written by `auditor audit`.")],
    format: Annotated[  # noqa: A002 - the flag is --format in the documented CLI
        str,
        typer.Option(
            "--format",
            help="html, pdf, json, junit, md or card (model_card.md, and model_card.json "
            "beside it).",
        ),
    ] = "html",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file.")] = None,
    template_dir: Annotated[
        Path | None,
        typer.Option(help="A folder of report templates used before the built-in ones."),
    ] = None,
) -> int:
    """Re-create a report from an audit.json alone (no data, no model)."""
    from auditor.io.atomic import write_atomic, write_set_atomic
    from auditor.render import REPORT_NAMES, ensure_renderable, render_format
    from auditor.result import read_result

    formats = _formats(format) or ()
    if len(formats) != 1 or formats[0] not in REPORT_NAMES:
        raise InputError(f"--format {format!r} must be one of {', '.join(REPORT_NAMES)}.")
    ensure_renderable(formats, template_dir)
    target = output or audit_json.with_name(REPORT_NAMES[formats[0]])
    if formats[0] == "card":
        from auditor.render.card import CARD_JSON, CARD_MARKDOWN, render_card

        if target.suffix.lower() == ".json" or target.is_dir():
            raise InputError(
                f"-o {str(target)!r}: name the card's Markdown file (model_card.md); "
                "its JSON is written beside it with the suffix .json."
            )
        card = render_card(read_result(audit_json))
        written = write_set_atomic(
            target.parent,
            {target.name: card[CARD_MARKDOWN], target.with_suffix(".json").name: card[CARD_JSON]},
        )
    else:
        result = read_result(audit_json)
        written = [write_atomic(target, render_format(result, formats[0], template_dir))]
    for path in written:
        typer.echo(f"Wrote {path}")
    return EXIT_PASS


@app.command("checks")
@exits_cleanly
def list_checks() -> int:
    """List every check: id, title, the inputs it needs and its parameters.

    Checks of installed plug-ins (``auditor.checks`` entry points) are listed with the rest,
    with the entry point that brought them.
    """
    from auditor.registry import load_registry
    from auditor.runner import order_checks
    from auditor.spec import EvaluationSettings

    settings = EvaluationSettings()
    typer.echo(
        "[evaluation] (audit-wide: every check refits and resamples with these)\n"
        f"    folds = {settings.folds}, repeats = {settings.repeats}, "
        f"bootstrap_resamples = {settings.bootstrap_resamples}, seed = the audit's seed"
    )
    for spec in order_checks(load_registry().values()):
        needs = ", ".join(sorted(spec.needs))
        typer.echo(f"{spec.id}\n    {spec.title} (needs: {needs})")
        if spec.plugin is not None:
            typer.echo(f"    plug-in: {spec.plugin}")
        for name, default in spec.default_params().items():
            typer.echo(f"    {name} = {default!r}: {spec.param_docs()[name]}")
    return EXIT_PASS


@app.command()
@exits_cleanly
def demo(
    out_dir: Annotated[Path, typer.Option(help="Where the reports go.")] = Path("reports"),
) -> int:
    """Run the whole audit on the bundled loan-default sample and write its reports."""
    from auditor.api import run_audit
    from auditor.io.atomic import check_out_dir
    from auditor.render import ensure_renderable
    from auditor.spec import load_spec

    _show_progress(None, quiet=False)
    config = sample_data_dir() / "audit.toml"
    spec = load_spec(config).with_overrides(out_dir=str(out_dir))
    check_out_dir(out_dir)
    ensure_renderable(spec.formats)
    typer.echo(f"Auditing the bundled sample ({config.parent.name}/audit.toml) ...")
    result = run_audit(spec, command="auditor demo")
    _report(result, out_dir, spec.formats)
    typer.echo(f"Open {out_dir / 'report.html'} in a browser.")
    # The demo shows what an audit reports; its verdict is not a failure of the command.
    return EXIT_PASS


@app.command()
@exits_cleanly
def compare(
    reference: Annotated[
        Path, typer.Argument(help="audit.json of the reference (e.g. production) model.")
    ],
    candidate: Annotated[Path, typer.Argument(help="audit.json of the candidate model.")],
    max_drop: Annotated[
        float,
        typer.Option(help="Largest allowed drop of a [0, 1] score such as ROC AUC (absolute)."),
    ] = 0.01,
    max_relative_increase: Annotated[
        float,
        typer.Option(
            help="Largest allowed relative increase of an error such as log loss or RMSE."
        ),
    ] = 0.05,
    allow_different_data: Annotated[
        bool,
        typer.Option(
            "--allow-different-data",
            help="Compare audits of different test data or targets anyway (the output says so).",
        ),
    ] = False,
    markdown: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            "--output",
            "-o",
            help="Also write the comparison here as Markdown for a pull-request comment.",
        ),
    ] = None,
) -> int:
    """Compare a candidate audit with a reference audit; exit 1 when the candidate is worse.

    Audits of different test data (SHA-256 of the test input) or targets are refused with
    exit 2 unless --allow-different-data is given.
    """
    from auditor.compare import CompareTolerance, compare_results
    from auditor.io.atomic import write_atomic
    from auditor.render.markdown import render_comparison
    from auditor.result import read_result

    for name, value in (
        ("--max-drop", max_drop),
        ("--max-relative-increase", max_relative_increase),
    ):
        if not 0 <= value <= 1:
            raise InputError(f"{name} must be between 0 and 1 (write 0.05 for 5%), got {value!r}.")
    ref, cand = read_result(reference), read_result(candidate)
    comparison = compare_results(
        ref,
        cand,
        CompareTolerance(max_drop, max_relative_increase),
        allow_different_data=allow_different_data,
    )
    text = render_comparison(comparison, ref, cand)
    typer.echo(text)
    if markdown is not None:
        write_atomic(markdown, text)
    return EXIT_PASS if comparison.status == "pass" else EXIT_GATE_FAILED


def sample_data_dir() -> Path:
    """The bundled sample data: inside the installed wheel, or in the source checkout."""
    from importlib import resources

    packaged = Path(str(resources.files("auditor"))) / "sample_data"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "sample_data"


def _click_exceptions(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from click, and from the copy of click that recent typer versions vendor."""
    import importlib

    found = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def main() -> None:
    """Console-script entry point: usage errors, like input errors, are one line (exit 2)."""
    try:
        code = app(prog_name="auditor", standalone_mode=False)
    except _click_exceptions("UsageError") as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(exc.format_message())
            sys.exit(EXIT_PASS)
        command = exc.ctx.command_path if exc.ctx is not None else "auditor"
        message = " ".join(exc.format_message().split()).rstrip(".") + "."
        typer.echo(f"error: {message} Run '{command} --help' for the options.", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except _click_exceptions("Abort"):
        typer.echo("interrupted by SIGINT.", err=True)
        sys.exit(128 + signal.SIGINT)
    sys.exit(code if isinstance(code, int) else EXIT_PASS)


from auditor.cli.schema import app as schema_app  # noqa: E402 - sub-app; imports only typer

app.add_typer(schema_app, name="schema")
