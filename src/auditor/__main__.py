"""``python -m auditor`` runs the command line."""

from auditor.cli.app import main

main()
