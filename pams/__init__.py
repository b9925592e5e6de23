"""The ``pams`` umbrella command: edge, cloud, sim and demo subcommands."""
