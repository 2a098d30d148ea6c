"""Errors raised by geo5g.

Every error geo5g raises on purpose derives from :class:`Geo5gError`, and each
narrow class also inherits the built-in exception a Python caller would expect
(as rasterio does with ``RasterioIOError(RasterioError, OSError)``), so
``except ValueError`` keeps working for library users while the CLI maps every
``Geo5gError`` to a one-line message and exit code 1.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "DataError",
    "Geo5gError",
    "InputError",
    "PlanError",
]


class Geo5gError(Exception):
    """Base class for all geo5g errors.

    Parameters
    ----------
    message : str
        What is wrong, naming the layer, the value and the fix.
    fix : tuple of (str, str), optional
        The remedy spelled twice: for a Python caller (``"pass radios=('NR',
        'LTE')"``) and for the command line (``"use --lte"``).  ``str(error)``
        ends with the first; the CLI prints :meth:`cli_message`, so users of
        the command are never told to pass a keyword argument.
    """

    def __init__(self, message: str = "", *, fix: tuple[str, str] | None = None):
        self.fix = fix
        self.bare = message
        super().__init__(f"{message}; {fix[0]}" if fix else message)

    def cli_message(self) -> str:
        """The message with the command-line spelling of the fix."""
        return f"{self.bare}; {self.fix[1]}" if self.fix else str(self)


class InputError(Geo5gError, OSError):
    """An input file is missing, unreadable or of an unknown format."""


class DataError(Geo5gError, ValueError):
    """An input layer does not satisfy its schema (columns, values, geometry)."""


class CRSError(DataError):
    """A layer has no CRS, or two layers' CRSs do not match."""


class PlanError(Geo5gError, ValueError):
    """A plan is unknown, or a plan file is malformed."""
