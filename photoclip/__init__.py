"""PhotoClip: a local photo organizer with CLIP search, similar photos and auto-tagging."""

__version__ = "0.1.0"
