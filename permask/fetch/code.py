"""Upstream code at a pinned commit: from the models folder, else torch.hub's cache, else
GitHub's archive of that commit (downloaded with torch.hub's downloader, with progress),
checked to be that commit's archive and unpacked atomically."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from permask.errors import FetchError
from permask.fetch import store
from permask.fetch.spec import COMMIT, Pin, parse_pin

COMMIT_FILE = ".permask-commit"  # written last: a folder without it is an interrupted unpack


def archive_url(pin: Pin) -> str:
    return f"{store.github_url()}/{pin.owner}/{pin.repo}/archive/{pin.commit}.zip"


def torch_hub_copy(pin: Pin) -> Path | None:
    """The folder torch.hub keeps for this commit (`<hub dir>/<owner>_<repo>_<commit>`)."""
    try:
        import torch.hub
    except ImportError:
        return None
    path = Path(torch.hub.get_dir()) / f"{pin.owner}_{pin.repo}_{pin.commit}"
    return path if path.is_dir() else None


def fetch_code(upstream: str, *, key: str, choice: str, marker: str | None = None,
               root: Path | None = None, pin_key: str | None = None) -> Path:
    """The local folder of `upstream` ('owner/repo:<commit>'), fetched on first use.
    `marker`: a file every copy has (checks a torch.hub copy). `key`: the config key that
    points at a local copy instead; `pin_key`: the one holding `upstream` (default:
    <group>.upstream); `choice`: e.g. 'tracker=mvtracker' (for messages)."""
    pin_key = pin_key or key.rsplit(".", 1)[0] + ".upstream"
    pin = parse_pin(upstream, pin_key)
    target = store.code_dir(pin, root)
    if _complete(target, pin):
        return target
    if root is None:
        hub = torch_hub_copy(pin)
        if hub is not None and (marker is None or (hub / marker).is_file()):
            return hub
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not _complete(target, pin):  # another process may have fetched it meanwhile
            _download_and_unpack(pin, target, key, choice)
    if marker is not None and not (target / marker).is_file():
        raise FetchError(f"the archive of {pin} has no {marker}", key=key,
                         fix=f"check the pin {pin_key}")
    return target


def _complete(target: Path, pin: Pin) -> bool:
    try:
        return (target / COMMIT_FILE).read_text().strip() == pin.commit
    except OSError:
        return False


def _download_and_unpack(pin: Pin, target: Path, key: str, choice: str) -> None:
    import torch.hub

    url = archive_url(pin)
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target.parent))
    try:
        store.progress(f"fetching {pin} from {url} into {target}")
        archive = work / "archive.zip"
        try:
            if store.offline():
                raise ConnectionError("offline: HF_HUB_OFFLINE is set")
            torch.hub.download_url_to_file(url, str(archive), progress=sys.stderr.isatty())
        except Exception as err:  # noqa: BLE001 - no network, 404, refused: all "missing"
            reason = " ".join(f"{type(err).__name__}: {err}".split())[:200]
            raise FetchError(f"cannot fetch the code of {choice} ({pin}) from {url} ({reason}); "
                             f"it would be stored in {target}", key=key,
                             fix=f"{store.fetch_command(choice)}; or set {key} to a clone at "
                                 f"{pin.commit}") from None
        unpacked = work / "tree"
        _unpack_commit_archive(archive, pin, unpacked, url, key)
        (unpacked / COMMIT_FILE).write_text(pin.commit + "\n")
        if target.exists():  # an interrupted earlier unpack
            shutil.rmtree(target)
        os.replace(unpacked, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _unpack_commit_archive(archive: Path, pin: Pin, dest: Path, url: str, key: str) -> None:
    """Unpack a GitHub commit archive (one top folder) into `dest`, after checking that it is
    the archive of `pin.commit`: `git archive` of a commit stores the commit id as the zip
    comment, and GitHub names the top folder <repo>-<commit>."""
    def refuse(problem: str) -> FetchError:
        return FetchError(f"{url}: {problem}: not the archive of {pin}, refused", key=key,
                          fix="check the network's proxy or mirror (PERMASK_GITHUB_URL)")

    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as err:
        raise refuse(f"not a zip archive ({err})") from None
    with zf:
        comment = zf.comment.decode("ascii", "replace").strip()
        names = [PurePosixPath(i.filename) for i in zf.infolist()]
        tops = {n.parts[0] for n in names if n.parts}
        if len(tops) != 1:
            raise refuse("not one top folder")
        top = tops.pop()
        if COMMIT.match(comment) and comment != pin.commit:
            raise refuse(f"its commit is {comment}")
        if not COMMIT.match(comment) and top != f"{pin.repo}-{pin.commit}":
            raise refuse(f"it names no commit (top folder '{top}')")
        for info, name in zip(zf.infolist(), names):
            if name.is_absolute() or ".." in name.parts:
                raise refuse(f"member '{info.filename}' leaves the folder")
            inner = PurePosixPath(*name.parts[1:])
            if not inner.parts:
                continue
            out = dest.joinpath(*inner.parts)
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
    dest.mkdir(parents=True, exist_ok=True)
