"""Catalog service: domains, projects, assets and their columns."""
