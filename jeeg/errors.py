"""Exceptions raised by jeeg.

Every error names the thing that is wrong (file, subject, run, channel, fold, shape, config key)
and says what to do about it. All derive from :class:`JeegError`, and each also derives from the
built-in exception a caller would naturally catch (``ValueError``, ``FileNotFoundError``).
"""

from __future__ import annotations


class JeegError(Exception):
    """Base class of every error jeeg raises on purpose."""


class DataError(JeegError, ValueError):
    """A recording is unusable: truncated, missing channels, non-finite samples, bad labels."""


class MissingDataError(JeegError, FileNotFoundError):
    """Requested recordings are not on disk and downloading was not allowed."""


class ConfigError(JeegError, ValueError):
    """An experiment configuration is invalid (unknown key, bad value, incompatible settings)."""


class SplitError(JeegError, ValueError):
    """A cross-validation split cannot be made or is unusable (e.g. a class absent from training)."""


class LeakageError(SplitError):
    """A test trial (or, for cross-subject schemes, a test subject) appears in training or validation."""
