"""The desktop GUI: PySide6 widgets over photoclip.core (which never imports Qt)."""
