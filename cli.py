"""Command line of the project: one command per DVC stage, plus tools to compare and ship.

Run `python cli.py --help`, or `python cli.py GROUP --help` for a pipeline's stages.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading

from pipeline import tracking
from pipeline.commands import app
from pipeline.errors import PipelineError


def _terminate(signum, frame):
    """SIGTERM (a `kill`, a job scheduler) ends the process like Ctrl-C does: open MLflow runs are
    marked FAILED on the way out instead of being left RUNNING."""
    raise KeyboardInterrupt(f"signal {signum}")


def _redeliver_lost_interrupt(unraisable) -> None:
    """Ctrl-C or SIGTERM landing inside a callback whose exceptions Python ignores (a weakref
    callback during an import) would be lost and the stage would train on: deliver it again."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        # from another thread, a moment later: raised here, it would be ignored again
        threading.Timer(0.05, _thread.interrupt_main).start()
    else:
        sys.__unraisablehook__(unraisable)


def main() -> int:
    """Run the app; user errors (bad params, bad data, failed downloads) print one line, exit 2."""
    signal.signal(signal.SIGTERM, _terminate)
    sys.unraisablehook = _redeliver_lost_interrupt
    tracking.use_service()  # stages share one MLflow process instead of paying its start-up each
    if os.environ.get("DVC_STAGE"):  # under `dvc repro`: have it ready for this or the next stage
        tracking.prestart_service()
    try:
        app()  # standalone: click handles --help and usage errors itself and exits
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
