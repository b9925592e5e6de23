"""The building gateway: site config, polling, SQLite buffer, local rules, health."""
