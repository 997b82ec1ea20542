"""Lakehold: a governed lakehouse you can pip install."""

__version__ = "0.1.0"
