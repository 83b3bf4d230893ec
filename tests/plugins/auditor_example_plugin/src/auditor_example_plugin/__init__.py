"""An example auditor check plug-in; its checks live in ``auditor_example_plugin.checks``."""
