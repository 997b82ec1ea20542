"""Delta Sharing (ADR 37): shares of a project's listed tables, recipients outside Lakehold
with bearer tokens, their grants decided like subscriptions (in full, or through the asset's
filters served from a per-grant materialised snapshot), and the protocol's reads.

- :mod:`.shares`: shares and their tables; :mod:`.recipients`: recipients and tokens;
  :mod:`.grants`: requesting, approving, rejecting and revoking a recipient's access;
- :mod:`.snapshots`: the filtered snapshots of grants (materialised, refreshed, removed),
  :mod:`.refresher`: their refresh in the background;
- :mod:`.served`: which table a recipient reads for a share table, at which version;
- :mod:`.reads`: the protocol's reads for a recipient; :mod:`.file_urls`: signed file URLs;
  :mod:`.hints`: file skipping by ``jsonPredicateHints`` and ``limitHint``.
"""
