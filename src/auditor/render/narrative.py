"""Plain-language reading of a result: the verdict, the gate, each section's opening paragraph.

Everything here reads the JSON form of a result (``AuditResult.to_json`` parsed), so a report
re-rendered from audit.json says exactly what the first rendering said. The wording states what
was measured and at which threshold; it never calls a model fair, unbiased, safe or free of
leakage, because a check that passed only failed to find a problem it looks for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from auditor import keys
from auditor.render.formatting import (
    INFINITY,
    finite,
    interval,
    number,
    p_equals,
    share,
    shorten,
)
from auditor.result import SEVERITY_RANK

STATUS_WORDS = {
    "pass": "passed",
    "warn": "warned",
    "fail": "failed",
    "error": "crashed",
    "skipped": "was skipped",
}
# Report order of statuses: what needs attention first.
STATUS_ORDER = ("fail", "error", "warn", "pass", "skipped")


def _names(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _plural(count: Any, word: str) -> str:
    return f"{number(count)} {word}{'' if count == 1 else 's'}"


def _finite(value: Any) -> bool:
    """A real, finite number (not a bool, not None, NaN or an infinity)."""
    return finite(value) is not None


def _g(value: Any) -> str:
    """A threshold as configured (``0.8``, ``0.05``), whatever the config held."""
    return f"{value:g}" if _finite(value) else number(value)


def _measurement(check: dict | None, key: str) -> dict | None:
    if check is None:
        return None
    found = next((m for m in check["measurements"] if m["key"] == key), None)
    return None if found is None or found["value"] is None else found


def _table(check: dict | None, key: str) -> dict | None:
    if check is None:
        return None
    return next((t for t in check["tables"] if t["key"] == key), None)


def _rows(data: dict, role: str) -> int | None:
    return next((f["rows"] for f in data["inputs"] if f["role"] == role), None)


# --- the verdict and the gate ---------------------------------------------------------------


def verdict(data: dict) -> dict[str, str]:
    """The answer to "can this model ship?": a short label, a sentence, and a CSS status."""
    statuses = [c["status"] for c in data["checks"]]
    counts = {s: statuses.count(s) for s in STATUS_ORDER}
    gate = data["gate"]
    attention = []
    if counts["fail"]:
        attention.append(f"{_plural(counts['fail'], 'check')} failed")
    if counts["error"]:
        attention.append(f"{_plural(counts['error'], 'check')} crashed")
    if counts["warn"]:
        attention.append(_plural(counts["warn"], "warning"))
    if gate is not None and not gate["passed"]:
        count = len(gate["reasons"])
        return {
            "answer": "Not ready to ship",
            "status": "fail",
            "sentence": f"The quality gate failed for {_plural(count, 'reason')}, listed below. "
            "Fix them, or record a waiver with a reason and an expiry date, then audit again.",
        }
    prefix = "No quality gate was configured" if gate is None else "The quality gate passed"
    if not attention:
        return {
            "answer": "Gate passed" if gate is not None else "No problem found",
            "status": "pass",
            "sentence": f"{prefix}, and {_none_found(len(statuses) - counts['skipped'])} at "
            "its threshold.",
        }
    status = "fail" if counts["fail"] or counts["error"] else "warn"
    return {
        "answer": "Review before shipping",
        "status": status,
        "sentence": f"{prefix}, but {_names(attention)} "
        f"{'needs' if counts['fail'] + counts['error'] + counts['warn'] == 1 else 'need'} a "
        "decision before shipping: each is explained below with what to do.",
    }


def _none_found(ran: int) -> str:
    if ran == 1:
        return "the one check that ran found no problem"
    return f"none of the {ran:,} checks that ran found a problem"


def gate_reasons(data: dict) -> list[dict[str, str | None]]:
    """The gate's reasons for the cover: a failed check by its title and a link (its findings
    follow under "What needs a decision"), a missed threshold in full."""
    gate = data["gate"]
    if gate is None or gate["passed"]:
        return []
    titles = {c["id"]: c["title"] for c in data["checks"]}
    reasons = []
    for reason in gate["reasons"]:
        check_id = reason.split(" ", 1)[0]
        if check_id in titles:
            # gate.py writes "<check id> <verb>[ and its waiver expired on <date>]: <summary>".
            verdict = reason.split(":", 1)[0].removeprefix(check_id)
            reasons.append({"check_id": check_id, "text": titles[check_id] + verdict})
        else:
            reasons.append({"check_id": None, "text": reason})
    return reasons


def gate_conditions(data: dict) -> list[str]:
    """What the gate required, as configured; the thresholds a reader can hold the model to."""
    spec = data["manifest"].get("spec")
    policy = spec.get("gate") if isinstance(spec, Mapping) else None
    if not policy or not isinstance(policy, Mapping):
        return []
    fail_on = policy.get("fail_on") or ("fail", "error")
    conditions = [
        "no check with status "
        + " or ".join(str(s) for s in fail_on)
        + (" (except waived checks)" if policy.get("waivers") else "")
    ]
    use_interval = policy.get("use_interval", True)
    which = "lower end of its 95% interval" if use_interval else "point estimate"
    upper = "upper end of its 95% interval" if use_interval else "point estimate"
    metrics = policy.get("metrics")
    for key, threshold in metrics.items() if isinstance(metrics, Mapping) else ():
        if not isinstance(threshold, Mapping):
            continue
        label = _metric_label(key)
        if threshold.get("min") is not None:
            conditions.append(f"{label} ({which}) at least {_g(threshold['min'])}")
        if threshold.get("max") is not None:
            conditions.append(f"{label} ({upper}) at most {_g(threshold['max'])}")
        if threshold.get("min_over_baseline") is not None:
            conditions.append(
                f"{label} above the best baseline by at least "
                f"{_g(threshold['min_over_baseline'])} ({which})"
            )
    for key, text in (
        ("max_overfit_gap", "train-validation gap at most {}"),
        ("max_group_gap", "largest metric gap between groups at most {}"),
    ):
        if policy.get(key) is not None:
            conditions.append(text.format(_g(policy[key])))
    if policy.get("max_slice_lift") is not None:
        support = policy.get("min_slice_support")
        on = f" on {support:.0%} or more of rows" if _finite(support) else ""
        conditions.append(
            f"no weak slice above {_g(policy['max_slice_lift'])}x the error rate of the rest{on}"
        )
    return conditions


def _metric_label(key: Any) -> str:
    from auditor.metrics import METRICS_BY_KEY

    return METRICS_BY_KEY[key].label if key in METRICS_BY_KEY else shorten(key)


# --- what to look at first ------------------------------------------------------------------


# What a problem does to the release decision, most first: a leak or broken data makes every
# number in the report wrong; then whether the model beats simple ones; then who it fails;
# then data hygiene and the rest.
_IMPACT_GROUPS = (
    ("leakage", "data.schema", "data.conflicting_labels"),
    ("performance", "baseline"),
    ("fairness", "slices"),
)


def impact_rank(check: Mapping[str, Any]) -> int:
    """0 for leakage and integrity, 1 performance and baselines, 2 group gaps, 3 the rest."""
    for rank, members in enumerate(_IMPACT_GROUPS):
        if check["id"] in members or check.get("category") in members:
            return rank
    return len(_IMPACT_GROUPS)


def priority_issues(data: dict, remedies: Mapping[str, str], limit: int) -> list[dict[str, Any]]:
    """Checks that need a decision, worst first, each with its findings and what to do.

    Crashed and failed checks come before warnings; among the same status, by impact on the
    release decision (``impact_rank``: leakage and integrity, then performance against
    baselines, then group gaps, then data hygiene), then by severity. A passing check
    appears only for a medium or high finding; low findings stay in their sections.
    ``remedies`` says, by check id, what to do about the check's most severe finding.
    """
    issues = []
    for check in data["checks"]:
        findings = sorted(
            (f for f in check["findings"] if f["severity"] != "low"),
            key=lambda f: SEVERITY_RANK[f["severity"]],
        )
        if check["status"] == "error":
            messages = [f"The check crashed: {check['summary']}"]
            todo = "Report the error with audit.json; the other checks ran without it."
        elif check["status"] in {"fail", "warn"} or findings:
            messages = [f["message"] for f in findings] or [check["summary"]]
            todo = remedies.get(check["id"], "")
        else:
            continue
        issues.append(
            {
                "id": check["id"],
                "title": check["title"],
                "status": check["status"],
                "severity": findings[0]["severity"] if findings else "high",
                "impact": impact_rank(check),
                "messages": messages[:1],
                "more": max(0, len(messages) - 1),
                "remedy": todo,
            }
        )
    issues.sort(
        key=lambda i: (
            STATUS_ORDER.index(i["status"]),
            i["impact"],
            SEVERITY_RANK[i["severity"]],
        )
    )
    return issues[:limit]


def decisions(data: dict) -> str | None:
    """What the model's yes/no decisions do on the test rows, for a binary task, in counts."""
    positive = data["manifest"].get("positive_class")
    check = next((c for c in data["checks"] if c["id"] == keys.HOLDOUT), None)
    matrix = _table(check, "confusion_matrix")
    if data["task"] != "binary" or positive is None or matrix is None:
        return None
    labels = [str(c) for c in matrix["columns"][1:]]
    rows = {str(row[0]): row[1:] for row in matrix["rows"]}
    positive = str(positive)
    if positive not in labels or positive not in rows:
        return None
    if not all(_finite(cell) for row in rows.values() for cell in row):
        return None  # a count was not recorded: no sentence rather than a wrong one
    column = labels.index(positive)
    flagged = sum(row[column] for row in rows.values())
    caught = rows[positive][column]
    actual = sum(rows[positive])
    total = sum(sum(row) for row in rows.values())
    event = f"{shorten(data['target'])} = {shorten(positive)}"
    return (
        f"At its decision threshold the model flags {number(flagged)} of the {number(total)} "
        f"test rows as {event}: it catches {number(caught)} of the {number(actual)} rows that "
        f"are ({share(caught / actual) if actual else '—'}), and {number(flagged - caught)} of "
        "its flags are false alarms."
    )


def not_checked(data: dict) -> list[str]:
    """The checks that did not run, grouped by why: what the verdict cannot speak for."""
    by_reason: dict[str, list[str]] = {}
    for c in data["checks"]:
        if c["status"] == "skipped":
            reason = c["summary"].removeprefix("Skipped: ").rstrip(".")
            by_reason.setdefault(reason[:1].upper() + reason[1:], []).append(c["title"])
    return [f"{reason}: {', '.join(titles)}" for reason, titles in by_reason.items()]


def weakest_slice(data: dict) -> str | None:
    """One sentence on the weakest slice found, or on the strongest candidate and why not.

    Where the model errs most (against the rest) leads; a slice where it only errs more
    than its own probabilities say is named when the first question found none.
    """
    check = next((c for c in data["checks"] if c["id"] == keys.SLICES), None)
    if check is None:
        return None
    if check["status"] in {"skipped", "error"}:
        return f"The slice search did not run: {check['summary']}"
    reported, tested = _table(check, "weak_slices"), _table(check, "tested_slices")
    if reported is not None and reported["rows"]:
        return f"The weakest slice, {_slice_phrase(reported)}, {_q(reported)})."
    beyond = _table(check, "unexpected_error_slices")
    confirmed = [] if beyond is None else [r for r in beyond["rows"] if r[-1] == "yes"]
    if confirmed:
        row = dict(zip(beyond["columns"], confirmed[0], strict=True))
        return (
            f"No slice errs significantly more than the rest, but '{shorten(row['slice'])}' "
            f"({_plural(row['rows'], 'test row')}) errs more than the model's own "
            f"probabilities say: {share(row['error_rate_in_slice'])} where "
            f"{share(row['expected_error_rate'])} was expected."
        )
    if tested is None or not tested["rows"]:
        return check["summary"]
    row = dict(zip(tested["columns"], tested["rows"][0], strict=True))
    reason = str(row.get("confirmed") or "").removeprefix("no: ")
    return (
        f"No slice was flagged. The strongest candidate, {_slice_phrase(tested)}), is not: "
        f"{reason}."
    )


def _slice_phrase(table: dict) -> str:
    """``'x < 2' (80 test rows, 10.0%), has an error rate of 31% against 10% elsewhere (3.10x``."""
    row = dict(zip(table["columns"], table["rows"][0], strict=True))
    inside, elsewhere = table["columns"][4], table["columns"][5]
    metric = inside.removesuffix("_in_slice").replace("_", " ")
    fmt = share if metric == "error rate" else number
    article = "an" if metric[:1] in tuple("aeiou") else "a"
    return (
        f"'{shorten(row['slice'])}' ({_plural(row['rows'], 'test row')}, "
        f"{share(row['share'])}), has {article} {metric} of {fmt(row[inside])} against "
        f"{fmt(row[elsewhere])} elsewhere ({_lift(row.get('lift'), row[inside], row[elsewhere])}"
    )


def _lift(lift: Any, inside: Any, elsewhere: Any) -> str:
    """``3.10x``; ``∞x`` when the rest has no error (JSON stores that lift as null)."""
    if _finite(lift):
        return f"{lift:.2f}x"
    infinite = isinstance(lift, float) and lift == math.inf
    if infinite or (lift is None and elsewhere == 0 and _finite(inside) and inside > 0):
        return f"{INFINITY}x"
    return "lift not measured"


def _q(table: dict) -> str:
    return p_equals("q", table["rows"][0][table["columns"].index("q_value")])


# --- one opening paragraph per section ------------------------------------------------------


def section_reading(category: str, checks: list[dict], data: dict) -> str:
    """What the section measures, how its checks came out, and what a pass does not prove."""
    parts = [_INTRO[category](checks, data), _tally(checks)]
    caveat = _CAVEATS.get(category)
    if caveat:
        parts.append(caveat)
    return " ".join(part for part in parts if part)


def _tally(checks: list[dict]) -> str:
    total = len(checks)
    by_status = {s: [c["title"] for c in checks if c["status"] == s] for s in STATUS_ORDER}
    if len(by_status["pass"]) == total:
        return (
            "The check found nothing above its threshold."
            if total == 1
            else f"All {total} checks found nothing above their thresholds."
        )
    if total == 1:
        status = checks[0]["status"]
        return {
            "fail": "The check failed; its findings and what to do follow.",
            "error": "The check crashed; its error follows, and the other checks ran without it.",
            "warn": "The check raised a warning; its findings and what to do follow.",
            "skipped": f"The check was skipped: {checks[0]['summary'].removeprefix('Skipped: ')}",
        }[status]
    sentences = []
    for status in ("fail", "error", "warn"):
        titles = by_status[status]
        if titles:
            sentences.append(
                f"{_plural(len(titles), 'check')} {STATUS_WORDS[status]}: {_names(titles)}."
            )
    if by_status["skipped"]:
        sentences.append(
            f"{_plural(len(by_status['skipped']), 'check')} could not run on these inputs "
            f"({_names(by_status['skipped'])})."
        )
    passed = len(by_status["pass"])
    if passed:
        sentences.append(f"The other {_plural(passed, 'check')} found nothing above threshold.")
    return " ".join(sentences)


def _data_intro(checks: list[dict], data: dict) -> str:
    sizes = [
        f"{number(rows)} {role} rows"
        for role in ("train", "test")
        if (rows := _rows(data, role)) is not None
    ]
    on = f" on the {_names(sizes)}" if sizes else ""
    return (
        f"These checks look at the data itself{on}, before any model: missing and constant "
        "values, value types, duplicates, conflicting labels, unseen categories, class balance "
        "and drift between train and test."
    )


def _leakage_intro(checks: list[dict], data: dict) -> str:
    return (
        "Leakage makes a test score overstate how the model will do on new data. These checks "
        "look for test rows copied or nearly copied from train, entities shared by both, test "
        "rows dated before training rows, and single features or identifiers that predict the "
        "target too well on their own."
    )


def _performance_intro(checks: list[dict], data: dict) -> str:
    by_id = {c["id"]: c for c in checks}
    sentences = [
        "The model is scored on held-out test rows with 95% bootstrap intervals, and by "
        "refitting it on cross-validation folds; calibration compares predicted probabilities "
        "with observed frequencies, the overfitting check compares scores on fitting and "
        "validation rows, and the decision check weighs the model's mistakes at its own "
        "threshold and at one chosen on out-of-fold predictions."
    ]
    holdout = by_id.get(keys.HOLDOUT)
    primary = _primary(data)
    test = _measurement(holdout, primary) if primary else None
    if test is not None:
        headline = (
            f"{_metric_label(primary)} on the test rows: {number(test['value'])} "
            f"{interval(test['ci_low'], test['ci_high'])}".rstrip()
        )
        folds = _measurement(by_id.get(keys.CROSS_VALIDATION), primary)
        if folds is not None:
            headline += f"; mean over cross-validation folds: {number(folds['value'])}"
        sentences.append(headline + ".")
    sentences.append(decisions(data) or "")
    return " ".join(sentence for sentence in sentences if sentence)


def _primary(data: dict) -> str:
    from auditor.engine.headline import headline_metric

    return headline_metric(data.get("headline"), data["task"])


def _baseline_intro(checks: list[dict], data: dict) -> str:
    sentence = (
        "A model earns its complexity only if it beats simple alternatives fitted on the same "
        "rows: dummy predictors and a regularised linear model, compared on the same test rows "
        "(paired bootstrap) and the same folds (corrected t-test)."
    )
    model, found = _measurement(checks[0], "model_score"), best_baseline(data)
    if model is None or found is None:
        return sentence
    name, best = found
    return (
        f"{sentence} The model scores {number(model['value'])} on the test rows; the best "
        f"baseline{f' ({name})' if name else ''} scores {number(best['value'])}."
    )


def best_baseline(data: dict) -> tuple[str, dict] | None:
    """The best baseline's name and its score on the test rows, from the result's headline."""
    best = (data.get("headline") or {}).get("best_baseline")
    if not best:
        return None
    return str(best.get("name") or ""), best


def _slices_intro(checks: list[dict], data: dict) -> str:
    sentence = (
        "The slice search looks for groups of test rows, described by up to three conditions "
        "on the features and holding at most half the rows, and asks two questions: where "
        "the model errs most against the rest, and where it errs more than its own "
        "probabilities say."
    )
    weakest = weakest_slice(data)
    return f"{sentence} {weakest}" if weakest and checks[0]["status"] != "skipped" else sentence


def _fairness_intro(checks: list[dict], data: dict) -> str:
    columns = data["manifest"].get("columns", {}).get("sensitive") or []
    quoted = (
        _names([f"'{shorten(c)}'" for c in columns])
        if columns
        else "the declared sensitive columns"
    )
    return (
        f"These measurements compare the model's selection rate and error rates between the "
        f"groups of {quoted}, with intervals that account for group size."
    )


def _explain_intro(checks: list[dict], data: dict) -> str:
    sentence = (
        "The features are ranked by how much they move the model's predictions on the test "
        "rows (mean absolute SHAP value)."
    )
    table = _table(checks[0], "feature_importance")
    if table is None or not table["rows"] or "importance_share" not in table["columns"]:
        return sentence
    column = table["columns"].index("importance_share")
    top = [f"'{shorten(row[0])}' ({share(row[column])})" for row in table["rows"][:3]]
    return f"{sentence} The largest shares of importance: {_names(top)}."


def _regression_intro(checks: list[dict], data: dict) -> str:
    return "This audit was compared with a reference audit of the same model and data."


_INTRO = {
    "data": _data_intro,
    "leakage": _leakage_intro,
    "performance": _performance_intro,
    "baseline": _baseline_intro,
    "slices": _slices_intro,
    "fairness": _fairness_intro,
    "explain": _explain_intro,
    "regression": _regression_intro,
}
_CAVEATS = {
    "leakage": "A pass means these measurable routes were not found at their thresholds; it "
    "cannot rule out leakage they do not see, such as a feature recorded after the outcome.",
    "fairness": "The figures are differences between groups at the limits shown, not a judgement "
    "that the model treats people equally; groups of columns not declared sensitive were not "
    "examined.",
    "explain": "Importance says which inputs the model relies on, not what causes the outcome.",
    "slices": "Slices are described by the features given to the search; a weakness along a "
    "column it did not see cannot be found.",
}
