"""The user's private folder: everything the project keeps outside the repo lives in
`$TMPDIR/pipeline-<uid>/` (the tracking service's sockets, logs and locks, the store's creation
lock, the MLflow UI's plugin, log and token), never under a name of its own in a shared folder.

Why: a name anyone can compute in a folder anyone can write (/tmp) lets another user get there
first. A folder of theirs on the UI server's PYTHONPATH runs their `sitecustomize.py` as you; a
symbolic link of theirs turns a log write into an overwrite of a file of yours; a lock they hold
stalls your stages. So `folder()` makes the folder mode 0700 and checks it on every use: a real
folder (not a link), yours, mode 0700, in a parent where no one else can swap it (not writable by
others, or sticky like /tmp, and root's or yours). Anything else is one `PipelineError` line
naming it. Files in it are opened without following links (`open_file`) and new ones are
created exclusively (`write_new`).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import tempfile
from pathlib import Path

from pipeline.errors import PipelineError

SUN_PATH = 107  # bytes of a Unix socket's path on Linux (sockaddr_un.sun_path less its NUL)
SOCKET_ROOM = 40  # the longest name of a socket kept here: the tracking service's `<key>.sock.<pid>`
_FIX = ("the project keeps its sockets, locks and the MLflow UI's plugin and log in a folder only you "
        "can enter (mode 0700, yours): remove it, or set TMPDIR to a folder of your own")


def location() -> Path:
    """Where the folder is, made or not: in `$TMPDIR`, or in /tmp when a socket in it would pass
    the 107 bytes a Unix socket's path may have."""
    name = f"pipeline-{os.geteuid()}"
    folder = Path(tempfile.gettempdir()) / name
    if len(os.fsencode(folder)) + 1 + SOCKET_ROOM > SUN_PATH:
        folder = Path("/tmp") / name
    return folder


def folder() -> Path:
    """The private folder, made if missing, checked every time."""
    return ensure(location())


def subfolder(name: str) -> Path:
    """A folder inside the private one (made 0700 and checked alike)."""
    return ensure(folder() / name)


def ensure(path: Path) -> Path:
    """Make `path` a folder of mode 0700, or check that the one there is private; else `PipelineError`."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise PipelineError(f"cannot create the private folder {path}: {exc.strerror}; "
                            "set TMPDIR to a folder of your own") from exc
    problem = _problem(path)
    if problem:
        raise PipelineError(f"{path} {problem}; {_FIX}")
    return path


def _problem(path: Path) -> str | None:
    me = os.geteuid()
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return "is not a folder but a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if info.st_uid != me:
        return f"belongs to uid {info.st_uid}, not to you (uid {me})"
    if info.st_mode & 0o077:
        return f"has mode {stat.S_IMODE(info.st_mode):04o}: other users may enter it"
    parent = os.stat(path.parent)  # others who may write it, without a sticky bit, may rename ours away
    if parent.st_uid not in (0, me):
        return f"lies in {path.parent}, a folder of uid {parent.st_uid}"
    if parent.st_mode & 0o022 and not parent.st_mode & stat.S_ISVTX:
        return f"lies in {path.parent}, which others may write and which has no sticky bit"
    return None


def open_file(path: Path, flags: int, mode: int = 0o600) -> int:
    """`os.open` that never follows a symbolic link at `path` (one is an error naming it) and opens
    nothing but a regular file (a FIFO planted there would block the writer)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PipelineError(f"{path} is a symbolic link: refusing to open it through the link; "
                                "remove it") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PipelineError(f"{path} is not a regular file: remove it")
    os.set_blocking(fd, True)
    return fd


def write_new(path: Path, data: bytes, mode: int = 0o600) -> Path:
    """Write `data` to a new file (created exclusively beside `path`, never through a link) and
    move it onto `path` at once: whatever was at `path`, a link included, is replaced, not written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_text(path: Path) -> str:
    """A file of the private folder, read without following a link."""
    with os.fdopen(open_file(path, os.O_RDONLY), "r", encoding="utf-8") as fh:
        return fh.read()


def lock_until(fh, deadline: float, pause: float) -> bool:
    """Take an exclusive flock on the open file `fh`, retrying every `pause` s until the
    `time.monotonic()` deadline; False when another process still holds it then (the caller
    says who, with `lock_holders`, and what to do)."""
    import fcntl
    import time

    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)


def lock_holders(fd: int) -> list[int]:
    """The pids holding a lock on the file open as `fd` (Linux's /proc/locks; [] elsewhere)."""
    info = os.fstat(fd)
    key = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids = []
    for line in lines:
        fields = line.split()
        if "->" in fields or len(fields) < 6:  # a process waiting for the lock, not holding it
            continue
        if fields[5] == key and fields[4].lstrip("-").isdigit() and int(fields[4]) > 0:
            pids.append(int(fields[4]))
    return sorted(set(pids))
