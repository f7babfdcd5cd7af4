"""`manage.py check --deploy` with the production settings reports exactly the warnings the README accepts,
and the production settings refuse to start without their secrets and servers.

Each case runs Django in a subprocess, because settings are read once per process and pytest's own
process runs on the test settings.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CHECK_ID = re.compile(r"\(([a-z_]+\.[EW]\d{3})\)")
STRONG_KEY = "k3Y-" + "x7Qp9Lm2Zr8Tv4Wn6Bc1Hd5Jf0Gs" * 3  # 88 characters, 25 distinct
VARIABLES_TO_CLEAR = [
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_SECRET_KEY",
    "SECRET_KEY",
    "DJANGO_DEBUG",
    "DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "ALLOWED_HOSTS",
    "ACCESS_CODE_SECRET",
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_READ_DOT_ENV_FILE",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_SECURE_HSTS_SECONDS",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "DJANGO_SECURE_HSTS_PRELOAD",
]


def production_env(**overrides: str | None) -> dict[str, str]:
    """A complete production environment; an override of None removes the variable."""
    env = {key: value for key, value in os.environ.items() if key not in VARIABLES_TO_CLEAR}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "exam_platform.settings.production",
            "DJANGO_SECRET_KEY": STRONG_KEY,
            "DJANGO_ALLOWED_HOSTS": "exam.example.kr,www.exam.example.kr",
            # `check` without --database never connects; the URLs only have to be well formed.
            "DATABASE_URL": "postgres://exam@127.0.0.1:5432/exam",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def deploy_check_ids(env: dict[str, str]) -> tuple[set[str], subprocess.CompletedProcess]:
    """The check IDs `check --deploy` reports (warnings go to stderr, the summary to stdout)."""
    result = manage("check", "--deploy", env=env)
    return set(CHECK_ID.findall(result.stdout + result.stderr)), result


def readme_accepted_warnings() -> set[str]:
    """The IDs on the README's `Accepted warnings:` line ("none" means the empty set)."""
    lines = [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("Accepted warnings:")]
    assert len(lines) == 1, "README.md must have exactly one 'Accepted warnings:' line"
    return set(re.findall(r"[a-z_]+\.[EW]\d{3}", lines[0]))


def test_deploy_check_reports_exactly_the_documented_warnings():
    """With a complete production environment the deploy check finds nothing beyond the README's list."""
    # given
    env = production_env()
    documented = readme_accepted_warnings()
    # when
    reported, result = deploy_check_ids(env)
    # then
    assert reported == documented == set(), result.stderr
    assert result.returncode == 0, result.stderr
    # Django's by-path middleware checks, replaced by exam_platform.checks (tests/platform/test_middleware.py)
    assert "System check identified no issues (3 silenced)." in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "warning"),
    [
        ("DJANGO_SECURE_HSTS_PRELOAD", "false", "security.W021"),
        ("DJANGO_SECURE_SSL_REDIRECT", "false", "security.W008"),
        ("DJANGO_SECURE_HSTS_SECONDS", "0", "security.W004"),
    ],
)
def test_weakening_a_security_variable_is_reported(variable, value, warning):
    """The check sees a weakened setting, so the empty result above is a real finding, not a blind parser."""
    # given
    env = production_env(**{variable: value})
    # when
    reported, result = deploy_check_ids(env)
    # then
    assert reported == {warning}, result.stdout + result.stderr
    assert result.returncode == 0  # warnings do not fail `check` at its default level


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DJANGO_SECRET_KEY": None}, "Set DJANGO_SECRET_KEY (or SECRET_KEY) in the environment."),
        ({"DJANGO_SECRET_KEY": ""}, "Set DJANGO_SECRET_KEY (or SECRET_KEY) in the environment."),
        ({"DJANGO_SECRET_KEY": "short-key-0123456789"}, "DJANGO_SECRET_KEY is weak"),
        ({"DJANGO_SECRET_KEY": "django-insecure-" + STRONG_KEY}, "DJANGO_SECRET_KEY is weak"),
        ({"DJANGO_SECRET_KEY": "ab" * 40}, "DJANGO_SECRET_KEY is weak"),
        ({"ACCESS_CODE_SECRET": "too-short"}, "ACCESS_CODE_SECRET must have at least 32 characters."),
        ({"DJANGO_ALLOWED_HOSTS": None}, "Set DJANGO_ALLOWED_HOSTS (comma-separated host names) in the environment."),
        ({"DATABASE_URL": None}, "Set DATABASE_URL=postgres://... in the environment."),
        ({"DATABASE_URL": "sqlite:////tmp/exam.sqlite3"}, "Production runs on PostgreSQL only"),
        ({"REDIS_URL": None}, "Set REDIS_URL=redis://... (the answer Redis) in the environment."),
    ],
    ids=[
        "no-secret-key",
        "empty-secret-key",
        "short-secret-key",
        "startproject-secret-key",
        "few-distinct-characters",
        "short-access-code-secret",
        "no-allowed-hosts",
        "no-database-url",
        "sqlite",
        "no-redis-url",
    ],
)
def test_production_settings_refuse_to_start_without_their_environment(overrides, message):
    """A missing or weak required value stops every command with ImproperlyConfigured naming the fix."""
    # given
    env = production_env(**overrides)
    # when
    result = manage("check", env=env)
    # then
    assert result.returncode == 1
    assert f"django.core.exceptions.ImproperlyConfigured: {message}" in result.stderr
    assert "System check identified" not in result.stdout


def test_secret_key_alias_is_accepted():
    """SECRET_KEY is read when DJANGO_SECRET_KEY is unset (base's fallback), and then the check is clean."""
    # given
    env = production_env(DJANGO_SECRET_KEY=None, SECRET_KEY=STRONG_KEY)
    # when
    reported, result = deploy_check_ids(env)
    # then
    assert reported == set()
    assert result.returncode == 0, result.stderr
