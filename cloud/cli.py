"""``pams-cloud``: run the cloud service."""

import typer

app = typer.Typer(help="The cloud service.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo("pams-cloud 0.1.0")
