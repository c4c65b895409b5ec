"""Errors the library raises.

`KnownError` and its subclasses are conditions a user can act on (disk full, locked, no
weights offline); front ends show their message as is. Anything else is a bug to report.
"""

from __future__ import annotations


class PhotoClipError(Exception):
    """Base class of every error PhotoClip raises on purpose."""


class KnownError(PhotoClipError):
    """A condition the user can fix; the message says how."""


class CatalogError(KnownError):
    """The catalog database cannot be used (locked, corrupt, full, unreadable, newer)."""


class ModelError(KnownError):
    """A model profile cannot be resolved or its weights cannot be loaded."""


class WeightsUnavailableError(ModelError):
    """The weights are not on disk and cannot be downloaded (offline, blocked)."""


class ImageError(KnownError):
    """One photo cannot be read; the message is the reason recorded for it."""


class QueryError(KnownError):
    """A search query cannot be understood."""
