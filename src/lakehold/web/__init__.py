"""The web portal: server-rendered pages (Jinja2 and htmx) over the same services as the API,
its static assets vendored into the package, and the offline API docs (ADR 27)."""
