"""The store's one error type, apart from the engine so that the CLI loads SQLAlchemy only when it is used."""

from __future__ import annotations

import click


class StoreError(click.ClickException):
    """The store cannot be opened or the input cannot be recorded: a usage problem (exit 2), in one line."""
