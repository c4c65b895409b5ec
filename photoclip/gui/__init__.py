"""The desktop app: PySide6 widgets over photoclip.core (which never imports this)."""

from __future__ import annotations

import ctypes
import sys


def keep_none_alive() -> None:
    """PySide6 6.12 (built for Python >= 3.12, where None, True and False are immortal)
    returns them without taking a reference. On Python 3.11 each such call (every void
    method: setText, drawPixmap, ...; every bool one) leaves the object one reference
    short, and after a few thousand the interpreter aborts with "none_dealloc: deallocating
    None" (or bool_dealloc). A reference count no session can use up makes them as good as
    immortal, as they are on 3.12."""
    if sys.version_info < (3, 12):
        for singleton in (None, True, False, NotImplemented, Ellipsis):
            count = ctypes.c_ssize_t.from_address(id(singleton))
            count.value += 1 << 40


keep_none_alive()
