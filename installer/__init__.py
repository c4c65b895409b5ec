"""Building and installing the PhotoClip app: PyInstaller spec, icons, platform installers."""
