"""A local HTTP server standing in for GitHub's commit archives and the Hugging Face Hub, so
the fetch path runs without internet (tests/test_fetch.py, tests/test_upstream.py).

- `GET /<owner>/<repo>/archive/<commit>.zip`: a zip of a registered folder, made the way
  `git archive` / GitHub make it (top folder `<repo>-<commit>`, the commit id as the zip comment);
- `HEAD|GET /<hf owner>/<hf repo>/resolve/<revision>/<file>`: registered bytes with the headers
  huggingface_hub reads (X-Repo-Commit, ETag, Content-Length).

Every request is recorded in `requests` (method, path): a test checks what was fetched, and that
a second run asks nothing. Point permask at it with PERMASK_GITHUB_URL and HF_ENDPOINT
(`env()`), and lift HF_HUB_OFFLINE (tests/conftest.py sets it).
"""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache"}


def commit_archive(folder: Path, repo: str, commit: str, comment: str | None = None) -> bytes:
    """A GitHub-style zip of `folder` at `commit` (comment: the commit id unless given)."""
    buf = io.BytesIO()
    top = f"{repo}-{commit}"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.comment = (commit if comment is None else comment).encode()
        for path in sorted(Path(folder).rglob("*")):
            rel = path.relative_to(folder)
            if any(part in SKIP_DIRS for part in rel.parts) or not path.is_file():
                continue
            zf.write(path, f"{top}/{rel.as_posix()}")
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ModelServer:
    """Serve archives and weight files on 127.0.0.1 (a free port) in a thread."""

    def __init__(self):
        self.archives: dict[str, bytes] = {}  # url path -> zip bytes
        self.files: dict[str, bytes] = {}  # url path -> bytes
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body: bool):
                path = self.path.split("?", 1)[0]
                server.requests.append((self.command, path))
                data = server.archives.get(path, server.files.get(path))
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                if path in server.files:
                    self.send_header("ETag", f'"{sha256(data)}"')
                    self.send_header("X-Repo-Commit", "0" * 40)
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # a short poll: `close` (shutdown) waits up to one poll interval (0.5 s by default)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,),
                                       daemon=True)
        self.thread.start()

    def add_repo(self, upstream: str, folder: Path, comment: str | None = None) -> None:
        """Serve `folder` as the archive of `upstream` ('owner/repo:<commit>')."""
        name, _, commit = upstream.partition(":")
        repo = name.split("/")[1]
        self.archives[f"/{name}/archive/{commit}.zip"] = commit_archive(folder, repo, commit,
                                                                          comment)

    def add_file(self, repo: str, file: str, data: bytes, revision: str = "main") -> str:
        """Serve `data` as Hugging Face file `repo`/`file`; returns its sha256."""
        self.files[f"/{repo}/resolve/{revision}/{file}"] = data
        return sha256(data)

    def env(self) -> dict[str, str]:
        return {"PERMASK_GITHUB_URL": self.url, "HF_ENDPOINT": self.url, "HF_HUB_OFFLINE": "0"}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_in_process(monkeypatch, server: ModelServer) -> None:
    """Point this process's fetching at `server` (env + huggingface_hub's import-time flag)."""
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    try:
        import huggingface_hub.constants as constants
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    except ImportError:
        pass
