"""Getting model weights onto disk: open_clip's model hub, or a file the user picked.

Downloads go into PhotoClip's cache folder with progress reported to a callback. Offline
with nothing cached is a `WeightsUnavailableError` that says what to do, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from photoclip.core.errors import ModelError, WeightsUnavailableError
from photoclip.core.profiles import ModelProfile

#: progress(done_bytes, total_bytes); total is 0 while unknown.
Progress = Callable[[int, int], None]

# open_clip's hub repositories publish one of these; the safe format first.
HUB_FILENAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def pretrained_config(profile: ModelProfile) -> dict[str, Any]:
    import open_clip

    config = open_clip.get_pretrained_cfg(profile.arch, profile.pretrained or "")
    if not config:
        tags = open_clip.list_pretrained_tags_by_model(profile.arch)
        raise ModelError(
            f"open_clip has no weights '{profile.pretrained}' for {profile.arch}. "
            f"Known tags: {', '.join(tags) or 'none'}."
        )
    return dict(config)


def weights_present(profile: ModelProfile, cache: Path) -> bool:
    """Whether loading the profile would need no download."""
    if profile.random_weights:
        return True
    if profile.weights_file is not None:
        return profile.weights_file.is_file()
    config = pretrained_config(profile)
    if not config.get("hf_hub"):
        return False
    from huggingface_hub import try_to_load_from_cache

    repo_id, subfolder = _split_hub(config["hf_hub"])
    for filename in HUB_FILENAMES:
        name = f"{subfolder}/{filename}" if subfolder else filename
        if isinstance(try_to_load_from_cache(repo_id, name, cache_dir=cache), str):
            return True
    return False


def ensure_weights(profile: ModelProfile, cache: Path, progress: Progress | None = None) -> Path:
    """Return a local checkpoint for the profile, downloading it once if needed."""
    if profile.weights_file is not None:
        if not profile.weights_file.is_file():
            raise WeightsUnavailableError(
                f"The weights file {profile.weights_file} is missing. Choose another file."
            )
        return profile.weights_file
    config = pretrained_config(profile)
    if config.get("hf_hub"):
        return _download_from_hub(config["hf_hub"], cache, progress)
    return _download_from_url(profile, cache)


def _download_from_hub(hub_id: str, cache: Path, progress: Progress | None) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    repo_id, subfolder = _split_hub(hub_id)
    last_error: Exception | None = None
    for filename in HUB_FILENAMES:
        try:
            path = hf_hub_download(
                repo_id,
                filename,
                subfolder=subfolder or None,
                cache_dir=cache,
                tqdm_class=_progress_class(progress),
            )
            return Path(path)
        except LocalEntryNotFoundError as error:  # offline, and not in the cache
            raise _unavailable(repo_id, error) from error
        except EntryNotFoundError as error:  # this repository publishes the other format
            last_error = error
        except Exception as error:
            raise _unavailable(repo_id, error) from error
    raise WeightsUnavailableError(f"{repo_id} has no open_clip checkpoint: {last_error}")


def _split_hub(hub_id: str) -> tuple[str, str]:
    """'org/repo/sub/folder/' -> ('org/repo', 'sub/folder')."""
    parts = hub_id.strip("/").split("/")
    return "/".join(parts[:2]), "/".join(parts[2:])


def _download_from_url(profile: ModelProfile, cache: Path) -> Path:
    import open_clip

    try:
        return Path(open_clip.download_pretrained(pretrained_config(profile), cache_dir=str(cache)))
    except Exception as error:
        raise _unavailable(profile.key, error) from error


def _unavailable(what: str, error: Exception) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"The weights for {what} are not on this computer and could not be downloaded "
        f"({type(error).__name__}). Connect to the internet once so PhotoClip can fetch "
        "them, or choose a local weights file."
    )


def _progress_class(progress: Progress | None) -> Any:
    """A tqdm subclass that forwards byte counts to `progress` (huggingface_hub takes one)."""
    from tqdm.auto import tqdm

    if progress is None:
        return tqdm
    report = progress

    class CallbackTqdm(tqdm):
        def display(self, *args: Any, **kwargs: Any) -> None:
            """The front end draws its own bar from the callback."""

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            report(int(self.n), int(self.total or 0))
            return shown

    return CallbackTqdm
