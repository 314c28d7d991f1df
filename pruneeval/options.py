"""Typed config fields whose help text is written once, next to the field (presets, trainer,
method and toy configs); the CLI and docs read it from the field's metadata."""

from dataclasses import field, fields


def option(default, help: str):
    """A dataclass field with ``default`` and its ``help`` text."""
    return field(default=default, metadata={"help": help})


def field_help(cls, name: str) -> str:
    """The ``help`` text of field ``name`` of the dataclass ``cls``."""
    return next(f for f in fields(cls) if f.name == name).metadata["help"]
