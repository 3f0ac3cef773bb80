"""Masking secrets wherever a URL or a message that may hold one is printed, logged or recorded."""

from __future__ import annotations

import re

# `scheme://user:secret@host`: the password between the user and the host
_USERINFO = re.compile(r"(?P<head>://[^:/@\s]+:)[^@\s]+@")
# `?password=…`, `&sslpassword=…`, `;token=…`: a query parameter whose name says it is a secret
_SECRET_PARAM = re.compile(
    r"(?P<head>[?&;](?:[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api_?key|access_?key|credential)"
    r"[A-Za-z0-9_.-]*)=)[^&;#\s\"']+",
    re.IGNORECASE,
)
MASK = "***"


def mask_secrets(text: str) -> str:
    """``pg://user:s3cret@h/db?sslpassword=x&a=1`` → ``pg://user:***@h/db?sslpassword=***&a=1``; other text unchanged."""
    return _SECRET_PARAM.sub(rf"\g<head>{MASK}", _USERINFO.sub(rf"\g<head>{MASK}@", text))
