"""Secrets are masked wherever a URL or a message holding one is shown."""

from __future__ import annotations

import pytest

from perennial.core.secrets import mask_secrets


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql+psycopg://app:s3cret@db:5432/x", "postgresql+psycopg://app:***@db:5432/x"),
        ("postgresql://db/x?user=app&password=s3cret", "postgresql://db/x?user=app&password=***"),
        ("mssql://h/db?PWD=s3cret;Encrypt=yes", "mssql://h/db?PWD=***;Encrypt=yes"),
        ("http://h/api?api_key=abc123&page=2", "http://h/api?api_key=***&page=2"),
        ("https://h/x?access_token=t0k&sslpassword=p", "https://h/x?access_token=***&sslpassword=***"),
        ("cannot reach mysql://u:p@h/d?token=z now", "cannot reach mysql://u:***@h/d?token=*** now"),
    ],
)
def test_passwords_in_userinfo_and_in_query_strings_are_masked(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:////tmp/x/mlflow.db",
        "http://127.0.0.1:5000/#/experiments/1",
        "postgresql://db/x?user=app&sslmode=require",
        "ratio 3:4 at noon",
        "https://h/search?q=password",
    ],
)
def test_text_without_a_secret_is_unchanged(text: str) -> None:
    assert mask_secrets(text) == text
