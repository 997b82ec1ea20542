"""Search over published listings and project inventories: indexing, query text, the service."""

from lakehold.catalog.search.indexer import index_asset, index_listing, reindex_all, remove_asset

__all__ = ["index_asset", "index_listing", "reindex_all", "remove_asset"]
