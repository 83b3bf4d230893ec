"""Slice checks: regions of the data where the model fails significantly more often."""
