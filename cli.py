"""Command line of the project: one command per DVC stage, plus tools to compare and ship.

Run `python cli.py --help`, or `python cli.py GROUP --help` for a pipeline's stages.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time

from pipeline import tracking
from pipeline.commands import app
from pipeline.errors import PipelineError, StageKilled

SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "fish"}  # what DVC may run a stage's cmd through ($SHELL -c)
WATCH_EVERY_S = 0.2  # how often a stage checks that the dvc process that started it is still there
STOP_WITHIN_S = 10.0  # then how long the stage has to stop by itself before it exits without clean-up

_dvc_gone = threading.Event()  # set once the dvc process that started this stage is gone
_said_gone = threading.Lock()  # taken by whichever notices first (signal handler, watcher): said once


def _terminate(signum, frame):
    """SIGTERM (a `kill`, a job scheduler) ends the process like Ctrl-C does: open MLflow runs are
    marked FAILED on the way out instead of being left RUNNING. Sent because the stage's dvc is
    gone (the watcher, or the kernel's parent-death signal), it ends them KILLED instead."""
    if _dvc_gone.is_set() or _Ancestry.current is not None and _Ancestry.current.gone():
        _dvc_gone.set()
        _say_dvc_gone()
        raise StageKilled(f"the dvc process that started stage {os.environ.get('DVC_STAGE', '?')} is gone")
    raise KeyboardInterrupt(f"signal {signum}")


def _redeliver_lost_interrupt(unraisable) -> None:
    """Ctrl-C or SIGTERM landing inside a callback whose exceptions Python ignores (a weakref
    callback during an import) would be lost and the stage would train on: deliver it again."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        # from another thread, a moment later: raised here, it would be ignored again
        threading.Timer(0.05, _thread.interrupt_main, args=(signal.SIGTERM,) if _dvc_gone.is_set() else ()).start()
    else:
        sys.__unraisablehook__(unraisable)


class _Ancestry:
    """The processes whose exit means this stage's `dvc` is gone: the parent (dvc itself, or the
    shell DVC runs the cmd through) and, while the parent is a shell, the shell's parent. A process
    counts as gone once it exits (a zombie too) or its pid names another process (start time)."""

    current: _Ancestry | None = None

    def __init__(self) -> None:
        self.parent = os.getppid()
        self.watched: list[tuple[int, str]] = []
        pid = self.parent
        for _ in range(2):
            stat = _proc_stat(pid)
            if stat is None:
                break
            self.watched.append((pid, stat["start"]))
            if stat["comm"] not in SHELLS:
                break
            pid = stat["ppid"]

    def gone(self) -> bool:
        if os.getppid() != self.parent:  # re-parented: the parent exited
            return True
        for pid, start in self.watched:
            stat = _proc_stat(pid)
            if stat is None or stat["start"] != start or stat["state"] in ("Z", "X"):
                return True
        return False

    def describe(self) -> str:
        return ", ".join(f"pid {pid}" for pid, _ in self.watched) or f"pid {self.parent}"


def _say_dvc_gone() -> None:
    """One line on stderr (the terminal dvc ran in) saying why the stage stops."""
    if _said_gone.acquire(blocking=False):
        ancestry = _Ancestry.current.describe() if _Ancestry.current is not None else "?"
        print(f"note: dvc ({ancestry}) that ran stage {os.environ.get('DVC_STAGE')} is gone: stopping it, "
              "nothing more is written", file=sys.stderr, flush=True)


def _proc_stat(pid: int) -> dict | None:
    """comm, state, ppid and start time of a process from /proc (None: no such process, or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
    except OSError:
        return None
    comm, rest = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
    return {"comm": comm, "state": rest[0], "ppid": int(rest[1]), "start": rest[19]}


def _set_parent_death_signal(sig: int) -> None:
    """Linux: have the kernel send `sig` the moment the parent exits (no polling delay)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the watcher below still notices, within WATCH_EVERY_S


def _die_with_dvc() -> None:
    """A stage started by `dvc repro` stops when that dvc process goes (killed, crashed): without
    this it trained on, wrote its outputs and logged its runs FINISHED while dvc.lock never
    learned of them, and a second `dvc repro` started the same stage again beside it.

    The main thread gets SIGTERM, which raises StageKilled there: nothing more is written and the
    open MLflow runs end KILLED. A main thread stuck in one long library call (that never returns
    to Python) is given STOP_WITHIN_S, then the process exits; the tracking service then ends its
    runs KILLED as the connection drops."""
    ancestry = _Ancestry.current = _Ancestry()
    _set_parent_death_signal(signal.SIGTERM)
    main = threading.main_thread().ident

    def watch() -> None:
        while not (_dvc_gone.is_set() or ancestry.gone()):
            time.sleep(WATCH_EVERY_S)
        _dvc_gone.set()
        _say_dvc_gone()
        signal.pthread_kill(main, signal.SIGTERM)
        time.sleep(STOP_WITHIN_S)
        os._exit(128 + signal.SIGTERM)

    threading.Thread(target=watch, name="dies-with-dvc", daemon=True).start()


def _file_error(exc: OSError) -> str:
    """`path: reason` of an OSError that names a file (read-only folder, full disk, missing input)."""
    reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
    return f"{exc.filename}: {reason}" + (f" (and {exc.filename2})" if exc.filename2 else "")


def main() -> int:
    """Run the app; user errors (bad params, bad data, failed downloads) print one line, exit 2,
    and so does a file the system refuses (read-only, full disk), naming it."""
    signal.signal(signal.SIGTERM, _terminate)
    sys.unraisablehook = _redeliver_lost_interrupt
    if os.environ.get("DVC_STAGE"):  # under `dvc repro`: this stage must not outlive it
        _die_with_dvc()
    tracking.use_service()  # stages share one MLflow process instead of paying its start-up each
    if os.environ.get("DVC_STAGE"):  # under `dvc repro`: have it ready for this or the next stage
        tracking.prestart_service()
    try:
        app()  # standalone: click handles --help and usage errors itself and exits
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:
            raise  # not about a file the user can fix: a bug, shown with its traceback
        print(f"error: {_file_error(exc)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
