"""Alembic migrations of the fleetwatch database (run them with `schema.migrate.upgrade`)."""
