"""The cloud service: FastAPI app, models, services, migrations and push."""
