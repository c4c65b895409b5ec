"""Where PhotoClip keeps its files, with environment overrides for tests and power users."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from photoclip.core.errors import KnownError

APP_NAME = "PhotoClip"
DATA_DIR_ENV = "PHOTOCLIP_DATA_DIR"
CACHE_DIR_ENV = "PHOTOCLIP_CACHE_DIR"


@dataclass(frozen=True)
class Locations:
    """The folders of one PhotoClip installation."""

    data: Path
    cache: Path

    @classmethod
    def from_environment(cls) -> Locations:
        data = os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir(APP_NAME, appauthor=False)
        cache = os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir(
            APP_NAME, appauthor=False
        )
        return cls(data=Path(data).expanduser(), cache=Path(cache).expanduser())

    @property
    def catalog(self) -> Path:
        return self.data / "catalog.sqlite3"

    @property
    def thumbnails(self) -> Path:
        return self.data / "thumbnails"

    @property
    def indexes(self) -> Path:
        return self.data / "indexes"

    @property
    def settings(self) -> Path:
        return self.data / "settings.json"

    @property
    def weights(self) -> Path:
        return self.cache / "weights"

    def ensure(self) -> Locations:
        """Make the folders; KnownError, saying which and why, when one cannot be made."""
        for folder in (self.data, self.thumbnails, self.indexes, self.weights):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except FileExistsError as error:
                raise KnownError(
                    f"{folder} should be a folder, but a file has its name. Move the file "
                    "away (PhotoClip makes the folder again)."
                ) from error
            except OSError as error:
                raise KnownError(
                    f"PhotoClip cannot make its folder {folder}: {error.strerror or error}."
                ) from error
        return self
