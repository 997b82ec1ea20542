"""Persistence: SQLAlchemy models, Alembic migrations, a session factory. No business rules."""
