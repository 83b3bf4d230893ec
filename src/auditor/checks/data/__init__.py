"""Data checks: the quality of the tables themselves."""
