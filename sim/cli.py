"""``pams-sim``: run the device simulator."""

import typer

app = typer.Typer(help="The device simulator.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo("pams-sim 0.1.0")
