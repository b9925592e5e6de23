from pams.cli import app

app()
