"""What the cloud does, independent of HTTP: the routes and the CLI call these."""
