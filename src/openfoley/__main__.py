"""``python -m openfoley``: same as the ``openfoley`` console script."""

from openfoley.cli import entry

raise SystemExit(entry())
