"""Command line of the project: one command per DVC stage, plus tools to compare and ship.

Run `python cli.py --help`, or `python cli.py GROUP --help` for a pipeline's stages.
"""

from __future__ import annotations

import signal
import sys

from pipeline.commands import app
from pipeline.errors import PipelineError


def _terminate(signum, frame):
    """SIGTERM (a `kill`, a job scheduler) ends the process like Ctrl-C does: open MLflow runs are
    marked FAILED on the way out instead of being left RUNNING."""
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    """Run the app; user errors (bad params, bad data, failed downloads) print one line, exit 2."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()  # standalone: click handles --help and usage errors itself and exits
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
