"""Keys read outside the check that emits them: by the gate, the headline and the renderers.

Both sides import these constants, so a renamed measurement cannot silently leave a reader
looking up a key that no longer exists; ``tests/test_keys.py`` runs the sample audits and
proves that every key here is emitted by its check.
"""

from __future__ import annotations

from typing import NamedTuple


class Key(NamedTuple):
    """A measurement (or table) ``key`` of the check ``check``."""

    check: str
    key: str


HOLDOUT = "performance.holdout_metrics"
CROSS_VALIDATION = "performance.cross_validation"
CALIBRATION = "performance.calibration"
BASELINE = "baseline.comparison"
OVERFIT = "performance.overfit"
GROUP_METRICS = "fairness.group_metrics"
SLICES = "slices.weak_segments"
DECISION = "performance.decision"

MODEL_SCORE = Key(BASELINE, "model_score")
BEST_BASELINE_SCORE = Key(BASELINE, "best_baseline_score")
DIFFERENCE_TO_BEST_BASELINE = Key(BASELINE, "difference_to_best_baseline")
BASELINE_SCORES_TABLE = Key(BASELINE, "baseline_scores")
TRAIN_VALIDATION_GAP = Key(OVERFIT, "train_validation_gap")
MAX_GROUP_GAP = Key(GROUP_METRICS, "max_group_gap")
N_TEST_ROWS = Key(HOLDOUT, "n_test_rows")
# At the threshold performance.decision chose from [decision]; [gate.metrics] bounds them.
# Emitted only when [decision] is declared, which the sample audits do not do:
# tests/checks/performance/test_decision.py proves they are emitted.
EXPECTED_COST = Key(DECISION, "expected_cost")
PRECISION_AT_THRESHOLD = Key(DECISION, "precision_at_threshold")
RECALL_AT_THRESHOLD = Key(DECISION, "recall_at_threshold")
DECISION_METRICS = (EXPECTED_COST, PRECISION_AT_THRESHOLD, RECALL_AT_THRESHOLD)

MEASUREMENTS = (
    MODEL_SCORE,
    BEST_BASELINE_SCORE,
    DIFFERENCE_TO_BEST_BASELINE,
    TRAIN_VALIDATION_GAP,
    MAX_GROUP_GAP,
    N_TEST_ROWS,
)
TABLES = (BASELINE_SCORES_TABLE,)
