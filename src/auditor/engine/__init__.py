"""The engine floor: computations shared by the context and several checks, done one way.

Modules here depend on pandas and numpy only (never on ``auditor.checks`` or the context),
so that every reader of the same data reaches the same answer.
"""
