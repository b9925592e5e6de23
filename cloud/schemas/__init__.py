"""Request and response bodies of the API: ``…Create``, ``…Update``, ``…Public``."""
