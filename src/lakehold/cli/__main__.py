"""``python -m lakehold.cli``."""

from lakehold.cli.main import app

app()
