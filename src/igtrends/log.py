"""The package logger. Library code logs here and never prints."""

from __future__ import annotations

import logging

logger = logging.getLogger("igtrends")
logger.addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """Return the child logger ``igtrends.<name>``."""
    return logger.getChild(name)
