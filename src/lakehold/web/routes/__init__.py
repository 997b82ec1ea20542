"""The portal's page routers, in the order they are included."""

from lakehold.web.routes import assets, auth, home, lineage, requests, search, sql

ROUTERS = (home, auth, search, assets, lineage, requests, sql)
