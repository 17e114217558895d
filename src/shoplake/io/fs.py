"""The filesystem of a lake path (fsspec): the one module every other ``shoplake.io`` module may use, so that the
Delta layer (:mod:`shoplake.io.delta`) and the partition layer (:mod:`shoplake.io.lake`) need not import each other."""

from __future__ import annotations

from typing import TYPE_CHECKING

import fsspec

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem


def filesystem(path: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of ``path`` and the path as that filesystem spells it."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    return fs, fs_path


def is_local(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is the local disk (a rename replaces a file whole; no listing cache to invalidate)."""
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
