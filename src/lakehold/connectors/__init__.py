"""The engine half of federated sources: plain values in, no principal, no metadata store.

Attach strings and the scanner extensions (:mod:`attach`, :mod:`extensions`), connection
parameters (:mod:`params`), introspection of a source's tables (:mod:`introspect`), folders of
files (:mod:`files`), table names (:mod:`naming`) and the sync engine (:mod:`sync_engine`).
The service half -- connections, crawlers, sync jobs, with their decisions and audit -- is
:mod:`lakehold.sources`.
"""
