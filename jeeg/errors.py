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


def choice_error(key: str, value, choices, what: str = "value") -> ConfigError:
    """The :class:`ConfigError` for ``key=value`` outside ``choices``: names the key, the value, every
    valid choice and the closest ones, e.g. ``model='eegnett' is not a valid model; choose one of: eegnet,
    msc_t3am, … (did you mean 'eegnet'?)``."""
    import difflib

    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(str(value), choices, n=2) if isinstance(value, str) else []
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    return ConfigError(f"{key}={value!r} is not a valid {what}; choose one of: {', '.join(choices)}{hint}")
