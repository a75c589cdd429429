"""Alembic migrations of the Hexa database, shipped inside the package and run at start."""
