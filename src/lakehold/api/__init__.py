"""HTTP adapter (FastAPI). Thin: parse, call a service, serialize."""
