"""What the commands defined beside what they drive share: standalone entry points and option checks."""

from __future__ import annotations

from pathlib import Path

import click

from bayesnet.errors import BayesNetError

__all__ = ["FIGURE_SUFFIXES", "check_figure_path", "one_line", "run_standalone"]

#: the figure files the commands write
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def one_line(message: str) -> str:
    """``message`` with control characters from the input (newline, CR...) escaped.

    >>> one_line("bad\\nvalue")
    'bad\\\\nvalue'
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def check_figure_path(figure: str | None) -> None:
    """A usage error unless ``figure`` (when given) is a .png, .svg or .pdf in an existing folder."""
    if figure is None:
        return
    suffix = Path(figure).suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise click.BadParameter(f"unsupported figure type {suffix or '(none)'!r}; use .png, .svg or .pdf",
                                 param_hint="'--figure'")
    if not Path(figure).resolve().parent.is_dir():
        raise click.BadParameter(f"directory of {figure!r} does not exist", param_hint="'--figure'")


def run_standalone(command: click.Command, argv: list[str] | None, prog_name: str) -> int:
    """Run ``command`` as ``python -m`` does, with the package's exit statuses (0; 2 for bad input, one line)."""
    try:
        command.main(args=argv, prog_name=prog_name, standalone_mode=False)
        return 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        click.echo(f"error: {exc.format_message()}".replace("\n", " "), err=True)
        return 2
    except BayesNetError as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        return 2
