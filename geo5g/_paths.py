"""Where geo5g finds its bundled data (``data/`` beside the package)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

__all__ = ["data_dir"]


def data_dir(*parts: str) -> Path:
    """Path inside the bundled data folder.

    The folder is ``$GEO5G_DATA`` when set, else ``data/`` at the top of the
    source tree (an editable install, ``pip install -e .``, keeps it there).
    """
    root = Path(os.environ.get("GEO5G_DATA", Path(__file__).resolve().parent.parent / "data"))
    if not root.is_dir():
        raise InputError(
            f"bundled data folder {root} not found; install geo5g from its source tree "
            "(pip install -e .) or set GEO5G_DATA to a copy of its data/ folder"
        )
    return root.joinpath(*parts)
