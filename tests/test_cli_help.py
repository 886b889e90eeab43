"""`cli.py --help` and each group's `--help` fit a 100-column terminal and say each command's
first sentence whole (click cuts it with "..." to keep one line per command)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pipeline import REPO_ROOT
from pipeline.commands import PipelineGroups

GROUPS = ["", *PipelineGroups.LAZY]  # the root, then competition, house, regularization, rnn, tune


def _help(group: str) -> str:
    argv = [sys.executable, "cli.py", *([group] if group else []), "--help"]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, env={"COLUMNS": "100", "PATH": ""},
                          timeout=120, check=True)
    return done.stdout


@pytest.mark.parametrize("group", GROUPS)
def test_help_fits_100_columns_and_cuts_no_description(group):
    text = _help(group)
    assert max(map(len, text.splitlines())) <= 100, text
    commands = text.split("\nCommands:\n", 1)[1]
    assert "..." not in commands, commands
    # every command's description, joined across its wrapped lines, ends its sentence
    entries = re.split(r"\n  (?=\S)", "\n" + commands.rstrip())[1:]
    assert len(entries) >= 2
    for entry in entries:
        name, description = entry.split(None, 1)
        assert " ".join(description.split()).endswith((".", ")", "`")), (name, description)
