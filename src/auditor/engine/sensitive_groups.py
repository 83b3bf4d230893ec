"""How a numeric sensitive column is cut into groups: one rule for the in-memory check
(``fairness.group_metrics``) and the Dask engine, which cuts it on every row."""

# A numeric sensitive column with more distinct values than this is cut at its quartiles.
MAX_DISTINCT_UNBINNED = 10
QUARTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
