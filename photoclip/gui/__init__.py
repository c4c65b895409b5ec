"""The desktop app: PySide6 widgets over photoclip.core (which never imports this)."""
