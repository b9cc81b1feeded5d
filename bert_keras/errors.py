"""Exception families of bert_keras.

Each family subclasses a built-in exception so that callers who already catch
`ValueError` or `OSError` keep working, while `except PresetError` catches
exactly the problems of one family.
"""


class BertKerasError(Exception):
    """Base class of every error raised by bert_keras."""


class PresetError(BertKerasError, ValueError):
    """A preset name, path, download or cache entry cannot be used."""


class CheckpointError(BertKerasError, ValueError):
    """A checkpoint's variables do not match the architecture."""


class DataError(BertKerasError, ValueError):
    """Input data is malformed."""


class ExportError(BertKerasError, ValueError):
    """A model cannot be exported, or not to the place asked."""


class DistributionError(BertKerasError, ValueError):
    """The devices asked for are absent, or the settings do not fit them."""


class TrainingError(BertKerasError, RuntimeError):
    """Training cannot go on, e.g. because the loss is no longer finite."""


class OutputError(BertKerasError, OSError):
    """An output path cannot be written, or must not be replaced."""
