"""README.md as a user reads it in a 100-column terminal: every command line it shows fits, and so
does every line of output it shows for the views that promise to fit (`cli.py runs`, `metrics`,
`exps`, `ui`)."""

from __future__ import annotations

import re

from pipeline import REPO_ROOT

WIDTH = 100
FITTED_VIEWS = re.compile(r"\bcli\.py (runs|metrics|exps|ui)\b")


def _blocks(kind: str) -> list[list[str]]:
    text = (REPO_ROOT / "README.md").read_text()
    fenced = re.findall(rf"^```{kind}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)
    return [block.splitlines() for block in fenced]


def _console_commands(block: list[str]) -> list[tuple[list[str], list[str]]]:
    """(command lines, output lines) of each `$ ` command of a console block; a command line
    ending in `\\` continues on the next."""
    found: list[tuple[list[str], list[str]]] = []
    continued = False
    for line in block:
        if line.startswith("$ ") or continued:
            if not continued:
                found.append(([], []))
            found[-1][0].append(line)
            continued = line.rstrip().endswith("\\")
        elif found:
            found[-1][1].append(line)
    return found


def test_every_command_line_in_the_readme_fits_100_columns():
    long = [line for block in _blocks("bash") for line in block if len(line) > WIDTH]
    for block in _blocks("console"):
        long += [line for command, _ in _console_commands(block) for line in command if len(line) > WIDTH]
    assert not long, "\n".join(long)
    assert len(_blocks("bash")) >= 5 and len(_blocks("console")) >= 4  # the blocks were found


def test_the_output_shown_for_the_fitted_views_fits_100_columns():
    shown = [(command[0], output) for block in _blocks("console") for command, output in _console_commands(block)
             if FITTED_VIEWS.search(" ".join(command)) and output]
    assert len(shown) >= 5, shown  # metrics, exps, metrics --diff, runs, ui
    long = [f"{command}\n  {line}" for command, output in shown for line in output if len(line) > WIDTH]
    assert not long, "\n".join(long)
