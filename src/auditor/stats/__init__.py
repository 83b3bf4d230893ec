"""Statistical building blocks shared by the checks: bootstrap intervals and random streams."""
