"""Fairness checks: how the model's errors and decisions differ between groups of people."""
