"""The home's warm process (ADR 42): a server of the API on a Unix socket in the home, started
by the CLI and used by its later commands, so that a command working on a local home answers
as fast as one against ``lakehold serve``. Standard library only on the CLI's side."""
