"""Explanation checks: which features the model relies on."""
