"""The partitioned engine (``--engine dask``): audits of Parquet datasets larger than memory.

One pass over the partitions computes, per partition, partial results that merge exactly
(counts, sums, fixed-bin histograms, Poisson bootstrap sums keyed by row hashes) and a
seeded sample of rows; the checks that need rows (refits, shap, slice search) read the
sample. ``docs/scale.md`` says which check reads what. Dask is imported lazily, inside the
functions that run a pass: ``auditor --help`` and the in-memory engine need nothing new.
"""
