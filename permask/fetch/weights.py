"""Weight files from the Hugging Face Hub (`huggingface_hub`, which shows progress and honours
HF_ENDPOINT / HF_HUB_OFFLINE), kept in the models folder and checked against the sha256 the
config records. A copy already in the Hugging Face cache is used when its sha256 matches."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from permask.errors import FetchError
from permask.fetch import store
from permask.fetch.spec import WeightFile, check_sha256

log = logging.getLogger(__name__)


def hf_endpoint() -> str | None:
    """HF_ENDPOINT read at call time (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT") or None


def file_url(weight: WeightFile) -> str:
    base = hf_endpoint() or "https://huggingface.co"
    return f"{base.rstrip('/')}/{weight.repo}/resolve/{weight.revision}/{weight.file}"


def fetch_weight(weight: WeightFile, *, key: str, choice: str, index: int = 0,
                 root: Path | None = None) -> Path:
    """The local, verified path of one weight file, downloaded on first use."""
    expected = check_sha256(weight.sha256, f"{key.rsplit('.', 1)[0]}.weights.{index}.sha256")
    target = store.weight_path(weight, root)
    if target.is_file():
        _verify(target, expected, weight, key, choice)
        return target
    if root is None and expected is not None:
        cached = _hf_cache_copy(weight)
        if cached is not None and store.verified_sha256(cached, None, key=key,
                                                        choice=choice) == expected:
            return cached
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not target.is_file():
            _download(weight, target, key, choice)
    try:
        _verify(target, expected, weight, key, choice)
    except FetchError:
        target.unlink(missing_ok=True)  # never leave a refused download where runs look
        raise
    return target


def fetch_weights(weights, *, key: str, choice: str, root: Path | None = None) -> list[Path]:
    return [fetch_weight(w, key=key, choice=choice, index=i, root=root)
            for i, w in enumerate(weights)]


def _verify(path: Path, expected: str | None, weight: WeightFile, key: str, choice: str) -> None:
    seen = store.verified_sha256(path, expected, key=key, choice=choice)
    if expected is None:
        log.warning("%s: %s/%s is not pinned in the config: its sha256 is %s (pin it as "
                    "sha256 of that weights entry)", choice, weight.repo, weight.file, seen)


def _hf_cache_copy(weight: WeightFile) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(weight.repo, weight.file, revision=weight.revision)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def _download(weight: WeightFile, target: Path, key: str, choice: str) -> None:
    url = file_url(weight)
    size = f", {weight.size_mb:.0f} MB" if weight.size_mb else ""
    store.progress(f"fetching {weight.repo}/{weight.file}{size} from {url} into {target}")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise FetchError(f"fetching {weight.repo}/{weight.file} needs huggingface_hub, which is "
                         "not installed", key=key,
                         fix="pip install huggingface_hub (it comes with permask[learned])"
                         ) from None
    # local_dir: the file lands at <local_dir>/<file> (written to a temporary name first)
    local_dir = target.parent
    for _ in Path(weight.file).parts[:-1]:
        local_dir = local_dir.parent
    try:
        if store.offline():
            raise ConnectionError("offline: HF_HUB_OFFLINE is set")
        hf_hub_download(weight.repo, weight.file, revision=weight.revision, local_dir=local_dir,
                        endpoint=hf_endpoint())
    except Exception as err:  # noqa: BLE001 - offline, not found, refused: all "missing"
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:200]
        raise FetchError(f"cannot fetch the weights of {choice} ({weight.repo}/{weight.file}) "
                         f"from {url} ({reason}); they would be stored at {target}", key=key,
                         fix=f"{store.fetch_command(choice)}; or set {key} to a local copy"
                         ) from None
