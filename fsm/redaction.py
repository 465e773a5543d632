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
MAX_MESSAGE = 500


def redact(message: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secret values, key=value secrets, URL passwords and account numbers."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, REDACTED)
    message = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", message)
    message = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", message)
    message = _ACCOUNT_NUMBER.sub(REDACTED, message)
    return message[:MAX_MESSAGE]
