"""The ``lakehold`` command (typer + rich). Thin: parse, call a service, print."""
