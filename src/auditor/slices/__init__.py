"""Failure slices: find conjunctions of conditions where a model errs significantly more.

The library works on integer codes of the features and a per-row error (or loss); it knows
nothing about checks or reports. ``auditor.checks.slices.weak_segments`` turns its output
into findings.

Use it in three steps::

    plan = plan_search(n_rows, errors, groups=None, rng=rng, params=params)
    features = encode_frame(frame, columns, numeric, count_rows=plan.discovery,
                            min_count=plan.min_rows)
    report = find_slices(features, plan, errors=errors, rng=rng, params=params)

Notes
-----
The method is an exact, pruned level-wise search on a discovery half under a
significance-aware score, followed by an honest confirmation on the held-out half.

1. **Split.** Rows are split 50/50 into a discovery half D and a confirmation half C,
   stratified on the error (whole groups go to one side when groups are declared). C
   plays no part in choosing the slices, so ordinary p-values and intervals on C are
   valid: there is no winner's curse. Below ``min_rows_for_split`` rows, a permutation
   mode searches all rows instead and calibrates the best score against the best scores
   of ``n_permutations`` searches on permuted errors (a single-step Westfall-Young
   max-statistic correction, which accounts for the whole search).
2. **Items.** Numeric features get quantile bins (``n_bins`` coarse bins nested in
   ``n_fine_bins`` fine ones); categorical levels rarer than the minimum slice size are
   pooled into ``other``; missing values are an item of their own.
3. **Score.** A slice with ``n`` of the ``N`` search rows and ``k`` of their ``E`` errors
   scores ``T - log M_L - log L_max``: ``T`` is the one-sided Bernoulli log-likelihood
   ratio of the scan statistic (slice rate against complement rate) and ``M_L`` the number
   of slices with ``L`` conditions (the elementary symmetric polynomial of the feature
   domain sizes), so that the maximum of ``M_L`` chance statistics (about ``log M_L``)
   puts one, two and three conditions on a common scale; ``log L_max`` is a Bonferroni
   factor over the levels. A numeric range that is not a single bin adds the log ratio
   of the effective number of ranges (neighbouring ranges overlap, so ranges of width
   ``w`` count once per ``w`` positions) to the number of bins: about 0.8 nats for a run
   of coarse bins, 2.9 for a range of fine bins.
4. **Search.** Levels 1 to ``max_conditions`` are enumerated exactly, one joint bincount per
   feature combination, keeping the ``n_keep`` best slices that pass relaxed effect
   floors (half of ``min_lift - 1`` and of ``min_difference``; with expected errors also
   against them). Pairs also score every run of neighbouring bins of numeric features
   (sums over the joint table). A combination is skipped when a parent's bound
   ``T(max(sigma, k), k)`` (the purest feasible sub-slice) cannot beat the pool. Every
   contiguous range of fine bins of each numeric feature is scored as a one-condition
   slice. Beyond one condition, only the ``max_features`` features with the strongest
   single slices are combined.
5. **Refinement.** For each kept slice, repeatedly: each numeric condition becomes the
   best contiguous range of fine bins given the other conditions (exact over ranges, so a
   planted range straddling several bins is recovered with real-valued bounds); a
   condition is dropped when removing it raises the score or when the slice is not
   significantly worse than the rows the condition removes (within-slice statistic below
   the log number of conditions the search could have used); and, below ``max_conditions``,
   the best condition on another feature is added when it raises the score and passes the
   same within-slice test. This reaches three-condition slices whose coarse cells are all
   below the minimum size, and keeps chance conditions out.
6. **Redundancy.** Slices are walked best first; a slice sharing a row-set Jaccard index of
   at least ``max_jaccard`` with a kept one is a duplicate, a slice nested in a kept one
   and not ``min_lift`` times worse is explained by it, and a broader slice whose extra
   rows are not worse than the rest is explained by the kept slice it contains. In split
   mode only slices scoring above ``min_score`` (2 nats) are candidates: a cheap,
   approximately family-wise screen on D that, with the test on C, keeps tables without
   any failure quiet.
7. **Confirmation.** The ``n_candidates`` best are tested on C: one-sided Fisher exact test
   for 0/1 errors, one-sided Welch t-test of the mean loss for losses (a Monte-Carlo
   permutation test below 50 rows); p-values are adjusted with Benjamini-Hochberg. A
   slice is reported when ``q <= fdr``, its error ratio is at least ``min_lift``, its rate
   difference at least ``min_difference`` and it has at least ``min_confirmation_rows``
   rows on C. Estimates on C: Wilson interval of the rate, Katz log interval of the risk
   ratio, Newcombe hybrid interval of the difference (t, delta-method and Welch intervals
   for losses). The slices are ranked by their score on every row.

For losses the search runs on the indicator ``loss > q80`` (the 80th percentile on D), which
is robust to a few huge losses, and the confirmation tests the raw mean loss.

**Expected errors.** When each row's probability of error according to the model is known
(one minus the probability of its predicted class), ``find_slices`` takes it as
``expected``: the null hypothesis becomes "errors follow their expectation up to a common
factor", the confirmation tests residuals, the permutation null draws errors where they are
expected, and a slice must also be ``min_lift`` times worse than expected. Uncertainty a
well-specified model reports (near its decision boundary) is then not a failure.

**Support.** ``max_support`` bounds the share of the rows a slice may hold: a slice is a
minority, not "everyone but the easy cases".

"No significant failure slice" means that no slice of up to ``max_conditions`` conditions
over the searched features, with at least ``sigma`` search rows, passed these tests; it
does not mean that the model errs uniformly (a smaller or weaker slice may exist).

References
----------
Y. Chung, T. Kraska, N. Polyzotis, K. H. Tae, S. E. Whang, "Slice Finder: Automated Data
Slicing for Model Validation", ICDE 2019.
S. Sagadeeva, M. Boehm, "SliceLine: Fast, Linear-Algebra-based Slice Finding for ML Model
Debugging", SIGMOD 2021.
M. Kulldorff, "A spatial scan statistic", Communications in Statistics - Theory and
Methods 26(6), 1997.
Y. Benjamini, Y. Hochberg, "Controlling the false discovery rate", JRSS B 57(1), 1995.
P. H. Westfall, S. S. Young, "Resampling-Based Multiple Testing", Wiley, 1993.
R. G. Newcombe, "Interval estimation for the difference between independent proportions",
Statistics in Medicine 17(8), 1998.
D. Katz, J. Baptista, S. P. Azen, M. C. Pike, "Obtaining confidence intervals for the risk
ratio in cohort studies", Biometrics 34(3), 1978.
"""

from auditor.slices.encoding import CodedFeature, encode_frame
from auditor.slices.procedure import (
    PairCell,
    SearchPlan,
    SliceEstimate,
    SliceParams,
    SliceReport,
    conditions_of,
    find_slices,
    min_slice_rows,
    plan_search,
    slice_mask,
)
from auditor.slices.search import FoundSlice, SearchConfig, SliceSearch
from auditor.slices.stats import (
    effective_range_count,
    katz_interval,
    log_lattice_sizes,
    newcombe_interval,
    slice_bound,
    slice_statistic,
    wilson_interval,
)
from auditor.stats.multiple_testing import benjamini_hochberg

__all__ = [
    "CodedFeature",
    "FoundSlice",
    "PairCell",
    "SearchConfig",
    "SearchPlan",
    "SliceEstimate",
    "SliceParams",
    "SliceReport",
    "SliceSearch",
    "benjamini_hochberg",
    "conditions_of",
    "effective_range_count",
    "encode_frame",
    "find_slices",
    "katz_interval",
    "log_lattice_sizes",
    "min_slice_rows",
    "newcombe_interval",
    "plan_search",
    "slice_bound",
    "slice_mask",
    "slice_statistic",
    "wilson_interval",
]
