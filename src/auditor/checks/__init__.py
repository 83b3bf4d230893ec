"""Checks, one module each, grouped by category; registered in ``auditor.registry``."""
