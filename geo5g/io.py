"""Atomic writes: a failed run never leaves a half-written output behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError

__all__ = ["atomic_path", "write_text_atomic"]


class atomic_path:
    """Context manager giving a temporary path that replaces ``target`` on success.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("ok")
    >>> (d / "x.txt").read_text()
    'ok'
    """

    def __init__(self, target):
        self.target = Path(target)

    def __enter__(self) -> Path:
        parent = self.target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{parent}: cannot create output folder ({exc.strerror})") from None
        fd, name = tempfile.mkstemp(
            prefix=f".{self.target.name}.", suffix=self.target.suffix, dir=parent
        )
        os.close(fd)
        os.unlink(name)  # writers such as GDAL want to create the file themselves
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.target)
        elif self.tmp.exists():
            self.tmp.unlink()
        return False


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
