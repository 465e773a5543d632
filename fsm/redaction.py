"""Secrets never reach the database, logs or exports: messages pass through ``redact``."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
_KEY_VALUE = re.compile(
    r"(?i)\b(api[_-]?key|secret|token|password|passwd|authorization|bearer)(\s*[=:]\s*|\s+)\S+"
)
_URL_PASSWORD = re.compile(r"(\w+://[^:/@\s]+:)[^@\s]+@")
_ACCOUNT_NUMBER = re.compile(r"\b\d{8,}\b")
# Digit runs that are dates or timestamps, not account numbers: YYYYMMDD and YYYYMMDDHHMMSS.
_DATE_LIKE = re.compile(
    r"(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(([01]\d|2[0-3])[0-5]\d[0-5]\d)?"
)
MAX_MESSAGE = 500


def _account_number(match: re.Match[str]) -> str:
    digits = match.group(0)
    return digits if _DATE_LIKE.fullmatch(digits) else REDACTED


def redact(message: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secret values, key=value secrets, URL passwords and account numbers.

    An account number is a run of eight or more digits, unless it reads as a date or a
    timestamp (``20261127``, ``20261127143500``), as in a price file's name.
    """
    for secret in secrets:
        if secret:
            message = message.replace(secret, REDACTED)
    message = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", message)
    message = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", message)
    message = _ACCOUNT_NUMBER.sub(_account_number, message)
    return message[:MAX_MESSAGE]
