"""Errors the CLI reports as one clear line (no traceback): bad params, bad data, failed downloads."""


class PipelineError(Exception):
    """Base of every error that is the user's input, not a bug."""


class ParamError(PipelineError, ValueError):
    """A param is missing, has the wrong type or an out-of-range value."""


class DataError(PipelineError, ValueError):
    """An input file is missing, empty, or lacks or mistypes a column."""


class MissingColumns(DataError):
    """Rows lack columns a features module needs. The preprocess stage turns it into an error naming
    the file that lacks them: a column test.csv lacks is left out of train's rows too."""

    def __init__(self, message: str, columns: list[str], why: str):
        super().__init__(message)
        self.columns, self.why = list(columns), why  # why: what needs them, e.g. a param's name


class DownloadError(PipelineError, RuntimeError):
    """No source delivered a file whose checksum matched."""


class TrackingError(PipelineError, RuntimeError):
    """The MLflow store (`MLFLOW_TRACKING_URI` or mlflow.db) or its UI server is unreachable, locked or
    damaged, or lacks what was asked (no such experiment or metric)."""


class StageKilled(KeyboardInterrupt):
    """Raised in a DVC stage whose `dvc` process is gone (cli.py): the stage stops at once without
    writing more, and `tracking.start_run` ends its open runs KILLED, as MLflow calls a run whose
    process was killed. Not a PipelineError: nothing for the user to fix in the stage."""
