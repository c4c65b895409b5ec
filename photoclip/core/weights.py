"""Getting model weights onto disk: open_clip's model hub, or a file the user picked.

Downloads go into PhotoClip's cache folder with progress reported to a callback. Before any
download the cache is looked at, then the network is probed once (HF_HUB_OFFLINE honoured):
offline with nothing cached is a `WeightsUnavailableError` within seconds that says what to
do, never a traceback and never huggingface_hub's minute of retries. Built-in profiles name
their hub repository, so none of this imports open_clip (and with it torch).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from photoclip.core.errors import ModelError, WeightsUnavailableError
from photoclip.core.profiles import ModelProfile

#: progress(done_bytes, total_bytes); total is 0 while unknown.
Progress = Callable[[int, int], None]

# open_clip's hub repositories publish one of these; the safe format first.
HUB_FILENAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
#: Longest the network probe waits (name lookup included) before calling the computer offline.
PROBE_SECONDS = 2.0
_TRUE = {"1", "ON", "YES", "TRUE"}

log = logging.getLogger(__name__)


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
    hub = hub_id(profile)
    return hub is not None and _cached_hub_file(hub, cache) is not None


def ensure_weights(profile: ModelProfile, cache: Path, progress: Progress | None = None) -> Path:
    """Return a local checkpoint for the profile, downloading it once if needed."""
    if profile.weights_file is not None:
        if not profile.weights_file.is_file():
            raise WeightsUnavailableError(
                f"The weights file {profile.weights_file} is missing. Choose another file."
            )
        return profile.weights_file
    hub = hub_id(profile)
    if hub is not None:
        cached = _cached_hub_file(hub, cache)
        if cached is not None:
            return cached
        _require_network(profile)
        return _download_from_hub(hub, cache, progress, profile)
    _require_network(profile)
    return _download_from_url(profile, cache)


def hub_id(profile: ModelProfile) -> str | None:
    """The profile's Hugging Face repository ('org/repo/sub/'), or None for a plain URL."""
    if profile.hub is not None:
        return profile.hub
    return pretrained_config(profile).get("hf_hub") or None


def network_available(timeout: float = PROBE_SECONDS) -> bool:
    """One short connect to the hub's host. HF_HUB_OFFLINE=1 means offline without asking.

    The connect runs in a daemon thread so that a name lookup that hangs (a DNS server that
    does not answer ignores socket timeouts) still ends the wait after `timeout`."""
    from huggingface_hub import constants

    # The constant is read when huggingface_hub is imported; the variable may be set later.
    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE:
        return False
    address = urlparse(constants.ENDPOINT)
    host, port = address.hostname or "huggingface.co", address.port or 443
    answer: list[bool] = []
    probe = threading.Thread(target=_connect, args=(host, port, timeout, answer), daemon=True)
    probe.start()
    probe.join(timeout)
    return bool(answer and answer[0])


def _connect(host: str, port: int, timeout: float, answer: list[bool]) -> None:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        answer.append(True)
    except OSError as error:
        log.info("network probe of %s:%s failed: %r", host, port, error)
        answer.append(False)


def _require_network(profile: ModelProfile) -> None:
    if not network_available():
        raise WeightsUnavailableError(offline_message(profile))


def offline_message(profile: ModelProfile) -> str:
    return (
        f"PhotoClip cannot download the '{profile.name}' model's weights: this computer is "
        "offline. Connect to the internet once, or choose a weights file you already have."
    )


def _cached_hub_file(hub: str, cache: Path) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    repo_id, subfolder = _split_hub(hub)
    for filename in HUB_FILENAMES:
        name = f"{subfolder}/{filename}" if subfolder else filename
        found = try_to_load_from_cache(repo_id, name, cache_dir=cache)
        if isinstance(found, str):
            return Path(found)
    return None


def _download_from_hub(
    hub_id: str, cache: Path, progress: Progress | None, profile: ModelProfile
) -> Path:
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
        except LocalEntryNotFoundError as error:  # the connection went during the download
            raise _unavailable(profile, error) from error
        except EntryNotFoundError as error:  # this repository publishes the other format
            last_error = error
        except Exception as error:
            raise _unavailable(profile, error) from error
    log.info("no open_clip checkpoint in %s: %r", repo_id, last_error)
    raise WeightsUnavailableError(
        f"{repo_id} holds no open_clip weights file. Choose a weights file you already have."
    )


def _split_hub(hub_id: str) -> tuple[str, str]:
    """'org/repo/sub/folder/' -> ('org/repo', 'sub/folder')."""
    parts = hub_id.strip("/").split("/")
    return "/".join(parts[:2]), "/".join(parts[2:])


def _download_from_url(profile: ModelProfile, cache: Path) -> Path:
    import open_clip

    try:
        return Path(open_clip.download_pretrained(pretrained_config(profile), cache_dir=str(cache)))
    except Exception as error:
        raise _unavailable(profile, error) from error


def _unavailable(profile: ModelProfile, error: Exception) -> WeightsUnavailableError:
    """The words for the user; the exception's name and text go to the log."""
    log.info("downloading the weights of %s failed: %r", profile.name, error)
    return WeightsUnavailableError(
        f"PhotoClip could not download the '{profile.name}' model's weights: the download "
        "was interrupted or refused. Try again later, or choose a weights file you already "
        "have."
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
