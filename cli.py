"""Command line of the project: one command per DVC stage, plus tools to compare and ship.

Run `python cli.py --help`, or `python cli.py GROUP --help` for a pipeline's stages.
"""

from __future__ import annotations

import sys

from pipeline.commands import app
from pipeline.errors import PipelineError


def main() -> int:
    """Run the app; user errors (bad params, bad data, failed downloads) print one line, exit 2."""
    try:
        app()  # standalone: click handles --help and usage errors itself and exits
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
