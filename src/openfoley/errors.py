"""User-facing errors. The CLI prints ``str(err)`` as one line and exits with code 2.

Raise these for bad input (missing files, wrong formats, mismatched configs); let genuine bugs raise
ordinary exceptions so they show a traceback.
"""


class OpenFoleyError(Exception):
    """Base class for errors caused by the user's input or environment (exit code 2, no traceback)."""


class MediaError(OpenFoleyError):
    """A media file is missing, unreadable, or lacks the stream asked for."""


class ConfigError(OpenFoleyError):
    """A config, preset or override is invalid."""


class OutputError(OpenFoleyError):
    """An output path is unusable: exists without --force, equals an input, or is not writable."""


class DataError(OpenFoleyError):
    """A dataset, manifest, sound bank or feature store is missing or malformed."""


class ModelError(OpenFoleyError):
    """A model folder or checkpoint is missing, malformed, or incompatible with this code."""
