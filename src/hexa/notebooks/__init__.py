"""Notebooks as a user sees them: files in their folder, opened, edited, closed."""
