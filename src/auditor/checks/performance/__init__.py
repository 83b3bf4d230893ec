"""Performance checks: how well the model predicts, with intervals."""
