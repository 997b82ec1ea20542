"""Arrow Flight SQL: an adapter beside the HTTP API, for BI tools and engines (ADR 0038).

``server.FlightSqlServer`` answers the Flight SQL protocol; ``endpoint`` runs it in
``lakehold serve``. It calls services only, as ``lakehold.api`` does.
"""
