"""marimo processes: spawn, health, session, restart, idle cull, stop."""
