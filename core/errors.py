"""The runtime's own exceptions, so callers catch one family instead of onnxruntime's or json's."""


class UnrolledError(Exception):
    """Base of every error the runtime raises on purpose."""


class ManifestError(UnrolledError):
    """models/manifest.json is missing, not JSON, or breaks the model contract."""


class ModelFileError(UnrolledError):
    """A model file is missing, corrupt, fails its sha256, or its graph breaks the contract."""


class InputError(UnrolledError):
    """Input the runtime cannot use: wrong type, shape or range."""


class TrainingError(UnrolledError):
    """A model stopped training: its loss or gradients stopped being finite, or its worker died."""
