"""Leakage checks: information from the test set or the label that reaches training."""
