"""``leakage.temporal``: test rows that are not later than the training rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.checks._common import example_rows, status_from
from auditor.checks._timeline import SECONDS_PER_DAY, TimeValues, split_times
from auditor.context import AuditContext
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement, Table

CHECK_ID = "leakage.temporal"


@dataclass(frozen=True, slots=True)
class TemporalParams:
    """Thresholds of ``leakage.temporal``.

    Parameters
    ----------
    fail_share : float, default=0.001
        Fail when rows on the wrong side of the split date reach this share of their split.
    min_rows : int, default=5
        Warn from this many rows on the wrong side; fewer are informational.
    max_mixing : float, default=0.8
        Splits mixing the periods at least this much are random (not time-ordered) splits.
    later_share : float, default=0.5
        Flag another date column when it falls after the time column on at least this share
        of the rows where both are filled.
    fail_future_share : float, default=0.6
        A random split on the declared time column warns; it fails when, averaged over the
        test rows, at least this share of the training rows is dated after the test row.
    """

    fail_share: float = param(
        0.001,
        "Fail when train rows dated after the split date, or test rows dated before it, are "
        "at least this share of their split.",
        share=True,
    )
    min_rows: int = param(
        5,
        "Warn when at least this many rows are on the wrong side of the split date; fewer are "
        "reported as information.",
        minimum=1,
    )
    max_mixing: float = param(
        0.8,
        "A split whose periods mix at least this much (share of train rows after the best "
        "split date plus share of test rows before it) is read as a random split.",
        minimum=0,
    )
    later_share: float = param(
        0.5,
        "Flag a date column whose values fall after the declared time column on at least this "
        "share of the rows where both are filled: it is recorded after the moment of "
        "prediction (a release date, an outcome date).",
        share=True,
    )
    fail_future_share: float = param(
        0.6,
        "A random split on the declared time column warns; it fails when, on average over the "
        "test rows, at least this share of the training rows is dated after the test row (a "
        "random split gives about half).",
        share=True,
    )


@register_check(
    CHECK_ID,
    title="Time order of training and test rows",
    needs=("train", "time_column"),
    params=TemporalParams,
    rationale=(
        "A model is used on cases that arrive after it was trained. When training rows are "
        "dated inside or after the test period, the model has seen the future it is tested "
        "on (market moves, new products, outcomes of the same period), and the test score "
        "is better than anything it can reach in production. A split where test and train "
        "cover the same period does not measure performance on future data at all."
    ),
    remedy=(
        "Split by time: choose a cut-off date, train on rows before it and test on rows after "
        "it (leaving a gap if outcomes take time to become known); remove rows dated after the "
        "cut-off from the training data."
    ),
)
def temporal(ctx: AuditContext, params: TemporalParams) -> CheckOutcome:
    """Compare the train and test periods on the declared time column.

    Notes
    -----
    The time column may hold datetimes, dates written as text, Unix timestamps or numbers
    (a year, a period index); both splits are read the same way, as the time-ordered
    cross-validation folds read them (``AuditContext.time_reading``). Dates are compared by day,
    so rows of the boundary day may fall in both splits.

    The split date ``c`` minimises the share of train rows later than ``c`` plus the share
    of test rows earlier than ``c`` (the *mixing*). A clean time-ordered split has mixing 0.
    Mixing of at least ``max_mixing`` means the periods coincide: a random split. Declaring
    the time column says the model will predict later cases, and such a split trains on the
    future of almost every test row, so it warns, and fails when on average
    ``fail_future_share`` of the training rows postdate a test row. Otherwise the split is time-ordered, and train rows
    after ``c`` (future rows in training) and test rows before ``c`` (test rows from the
    training period) fail at ``fail_share`` of their split and warn from ``min_rows`` rows.
    A test period that lies before the training period fails.

    Every other date column is compared with the time column row by row (by day, both
    splits): one that falls after it on at least ``later_share`` of the rows where both are
    filled holds information from after the moment of prediction. It warns, and fails when
    the model takes the column as an input. A date on the same day is not after it.
    """
    column = ctx.roles.time
    read = split_times(ctx, column)
    if read is None:
        raise SkipCheck(
            f"the time column {column!r} holds neither dates nor numbers that can be ordered"
        )
    train_t, test_t = read
    a, b = _comparable(train_t), _comparable(test_t)
    ok_a, ok_b = np.isfinite(a), np.isfinite(b)
    if not ok_a.any() or not ok_b.any():
        raise SkipCheck(f"the time column {column!r} has no readable value in one of the splits")
    fa, fb = a[ok_a], b[ok_b]
    cut, mixing = _best_cut(fa, fb)
    back_cut, back_mixing = _best_cut(fb, fa)

    findings: list[Finding] = []
    period = f"train {_span(train_t, ok_a)}, test {_span(test_t, ok_b)}"
    if min(mixing, back_mixing) >= params.max_mixing:
        inside = float(np.mean((fb >= fa.min()) & (fb <= fa.max())))
        ordered = np.sort(fa)
        future = float(np.mean(1.0 - np.searchsorted(ordered, fb, side="right") / ordered.size))
        findings.append(
            Finding(
                "same_period",
                "high" if future >= params.fail_future_share else "medium",
                f"Train and test cover the same period on {column!r} ({period}; {inside:.0%} of "
                f"test rows fall inside the training period, and {future:.0%} of the training "
                "rows are later than a test row on average): the split is not by time, so the "
                "model was trained on the future of the rows it is tested on and the test score "
                "does not measure performance on later data. Split by time, or remove "
                f"--time-column if time does not matter here (fail at {params.fail_future_share:.0%}).",
                (column,),
                {
                    "mixing": mixing,
                    "test_share_in_train_period": inside,
                    "train_share_after_test_row": future,
                    "fail_at": params.fail_future_share,
                },
            )
        )
        summary = (
            f"Train and test cover the same period on {column!r} ({period}): a random split on "
            "the declared time column, so the model has seen the future of the test rows."
        )
        late_share = early_share = float("nan")
    elif back_mixing < mixing:
        later = int((fa > back_cut).sum())  # train rows after the test period
        share = float(np.mean(fb < back_cut)) if back_mixing > 0 else 1.0
        findings.append(
            Finding(
                "test_before_train",
                "high",
                f"The test rows are earlier than the training rows on {column!r} ({period}): "
                "the model is evaluated on the past, after training on the future.",
                (column,),
                {"mixing": back_mixing, "train_rows_after_test": later, "share": share},
            )
        )
        summary = f"The test period precedes the training period on {column!r} ({period})."
        late_share = early_share = float("nan")
    else:
        late = np.flatnonzero(ok_a)[fa > cut]
        early = np.flatnonzero(ok_b)[fb < cut]
        late_share, early_share = len(late) / fa.size, len(early) / fb.size
        split_at = train_t.format(cut * SECONDS_PER_DAY if train_t.is_date else cut)
        for code, rows, share, split, text in (
            (
                "future_rows_in_train",
                late,
                late_share,
                "train",
                f"train rows are dated after {split_at}, inside or after the test period",
            ),
            (
                "test_rows_in_train_period",
                early,
                early_share,
                "test",
                f"test rows are dated before {split_at}, inside the training period",
            ),
        ):
            if len(rows) == 0:
                continue
            severity = _severity(len(rows), share, params)
            findings.append(
                Finding(
                    code,
                    severity,
                    f"{len(rows):,} {text} ({share:.2%} of {split} rows; {period}; fail at "
                    f"{params.fail_share:.1%}, warn from {params.min_rows} row{'s' if params.min_rows != 1 else ''}).",
                    (column,),
                    {
                        "rows": len(rows),
                        "share": share,
                        "split_date": split_at,
                        "fail_at": params.fail_share,
                        f"example_{split}_rows": example_rows(rows),
                    },
                )
            )
        if not findings:
            summary = (
                f"Every test row is dated on or after the last training "
                f"{'day' if train_t.is_date else 'value'} on {column!r} ({period})."
            )
        else:
            summary = (
                f"The split is by time on {column!r} ({period}) but "
                + " and ".join(
                    f"{f.evidence['rows']:,} {'train' if f.code == 'future_rows_in_train' else 'test'} rows"
                    for f in findings
                )
                + f" lie on the wrong side of {split_at}."
            )
    findings += _later_dates(ctx, column, params)
    missing = {"train": int((~ok_a).sum()), "test": int((~ok_b).sum())}
    if any(missing.values()):
        findings.append(
            Finding(
                "unreadable_times",
                "low",
                f"{missing['train']:,} train and {missing['test']:,} test rows have no readable "
                f"time in {column!r} ({reader_description(train_t)}); they are left out.",
                (column,),
                missing,
            )
        )
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=(
            Measurement("mixing", float(min(mixing, back_mixing)), greater_is_better=False),
            Measurement("train_share_after_split", late_share, greater_is_better=False),
            Measurement("test_share_before_split", early_share, greater_is_better=False),
        ),
        tables=(
            Table(
                "periods",
                f"Periods on {column!r}",
                ("split", "rows", "unreadable", "first", "last"),
                (
                    ("train", len(a), missing["train"], *_ends(train_t, ok_a)),
                    ("test", len(b), missing["test"], *_ends(test_t, ok_b)),
                ),
            ),
        ),
    )


# Rows with both dates filled needed before a date column is judged against the time column.
_MIN_PAIRED_ROWS = 20


def _later_dates(ctx: AuditContext, column: str, params: TemporalParams) -> list[Finding]:
    """Date columns dated after the time column on most rows: known only after prediction."""

    def days(name: str) -> np.ndarray | None:
        read = split_times(ctx, name)
        if read is None or not read[0].is_date:
            return None
        return np.concatenate([_comparable(values) for values in read])

    moment = days(column)
    if moment is None:
        return []
    findings = []
    for other in ctx.roles.dates:
        if other == column or not all(other in frame for frame in (ctx.train, ctx.test)):
            continue
        day = days(other)
        if day is None:
            continue
        both = np.isfinite(day) & np.isfinite(moment)
        if both.sum() < _MIN_PAIRED_ROWS:
            continue
        later = day[both] > moment[both]
        share = float(later.mean())
        if share < params.later_share:
            continue
        used = other in ctx.model_features
        median_days = float(np.median(day[both][later] - moment[both][later]))
        findings.append(
            Finding(
                "dates_after_prediction_time",
                "high" if used else "medium",
                f"{other!r} falls after {column!r} on {share:.0%} of the {int(both.sum()):,} rows "
                f"where both are filled (a median of {median_days:,.0f} days later): it is "
                "recorded after the moment of prediction, so neither it nor anything derived "
                "from it can be known when the model is used"
                + (", and the model takes it as an input." if used else "."),
                (other,),
                {
                    "share_after": share,
                    "rows_compared": int(both.sum()),
                    "median_days_after": median_days,
                    "model_input": used,
                    "flag_at": params.later_share,
                },
            )
        )
    return findings


def reader_description(values: TimeValues) -> str:
    return f"read as {values.how}"


def _comparable(values: TimeValues) -> np.ndarray:
    """Days for dates (the boundary day may be shared), the values themselves otherwise."""
    return np.floor(values.values / SECONDS_PER_DAY) if values.is_date else values.values


def _best_cut(early: np.ndarray, late: np.ndarray) -> tuple[float, float]:
    """The cut minimising share(early > cut) + share(late < cut), and that minimum."""
    sa, sb = np.sort(early), np.sort(late)
    candidates = np.unique(np.concatenate([sa, sb]))
    after = 1.0 - np.searchsorted(sa, candidates, side="right") / sa.size
    before = np.searchsorted(sb, candidates, side="left") / sb.size
    total = after + before
    best = int(np.argmin(total))
    return float(candidates[best]), float(total[best])


def _severity(rows: int, share: float, params: TemporalParams) -> str:
    if share >= params.fail_share and rows >= params.min_rows:
        return "high"
    return "medium" if rows >= params.min_rows else "low"


def _ends(values: TimeValues, ok: np.ndarray) -> tuple[str, str]:
    present = values.values[ok]
    return values.format(float(present.min())), values.format(float(present.max()))


def _span(values: TimeValues, ok: np.ndarray) -> str:
    first, last = _ends(values, ok)
    return f"{first} to {last}"
