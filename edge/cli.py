"""``pams-edge``: run the gateway agent."""

import typer

app = typer.Typer(help="The building gateway agent.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo("pams-edge 0.1.0")
