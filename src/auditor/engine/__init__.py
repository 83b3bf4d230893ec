"""The engine floor: computations shared by the context and several checks, done one way.

Nothing here imports ``auditor.checks``. Readers of the raw data (``time``, ``kinds``)
depend on pandas and numpy only; measurers of the model (``baselines``) build on the
context and ``auditor.evaluation``, so a check asks one question and gets a measured answer.
"""
