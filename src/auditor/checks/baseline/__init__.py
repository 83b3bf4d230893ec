"""Baseline checks: whether the model beats simple models on the same rows."""
