"""Django's settings, built from the active community configuration (config.activate())."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from eldergate.community.config import active
from eldergate.community.keys import data_key, secret_key

LIBPQ_TLS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl")


def database(url: str, data_dir: Path) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        raw = unquote(parts.path)
        # sqlite:///name is relative to the data folder, sqlite:////abs/name is absolute
        path = Path(raw[1:])
        if not path.is_absolute():
            path = data_dir / path
        return {
            "ENGINE": "django.db.backends.sqlite3", "NAME": str(path),
            # one writer at a time: take the write lock at BEGIN, wait for it instead of failing,
            # and WAL so the pages read while the ingest writes
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20,
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"},
        }
    # several hosts (postgresql://USER@PRIMARY:5432,STANDBY:5432/DB): libpq tries them in turn and
    # keeps the one that accepts writes, so after a failover the server finds the promoted standby
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    hosts = [h.rpartition(":") if h.count(":") == 1 else ("", "", h) for h in hostlist.split(",")]
    user, _, password = userinfo.partition(":")
    options: dict[str, str] = {"target_session_attrs": "read-write"} if len(hosts) > 1 else {}
    # TLS to PostgreSQL: ?sslmode=verify-full&sslrootcert=/etc/eldergate/pki/ca.crt (libpq's names)
    options |= {k: v for k, v in parse_qsl(parts.query) if k in LIBPQ_TLS}
    return {
        "ENGINE": "django.db.backends.postgresql", "NAME": (parts.path or "/eldergate").lstrip("/"),
        "USER": unquote(user), "PASSWORD": unquote(password),
        "HOST": ",".join(h[0] if h[1] else h[2] for h in hosts),
        "PORT": ",".join(h[2] if h[1] else "" for h in hosts).strip(","),
        # kept open (a new connection per ingest batch cost 3 ms, 8 % of the ingest's time), and
        # checked before reuse, so a restarted PostgreSQL costs one failed batch at most
        "CONN_MAX_AGE": 300, "CONN_HEALTH_CHECKS": True, "OPTIONS": options,
    }


_cfg = active()

SECRET_KEY = secret_key(_cfg)
DATA_KEY = data_key(_cfg)
DEBUG = False
ALLOWED_HOSTS = ["*"]  # behind the community's reverse proxy; the API checks tokens, not hosts
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
    "eldergate.community.apps.CommunityConfig",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if _cfg.server.behind_proxy:  # the proxy terminates TLS and sets this header itself, on every request
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
if _cfg.server.public_url:  # a form posted from the public address is this server's own
    _public = urlsplit(_cfg.server.public_url)
    CSRF_TRUSTED_ORIGINS = [f"{_public.scheme}://{_public.netloc}"]
ROOT_URLCONF = "eldergate.community.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages"]},
}]
DATABASES = {"default": database(_cfg.server.database, _cfg.server.data_dir)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = _cfg.server.language
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [str(Path(__file__).parent / "locale")]
USE_I18N = True
USE_TZ = True
TIME_ZONE = _cfg.server.time_zone
STATIC_URL = "/static/"
LOGIN_URL = "/console/login"
SESSION_COOKIE_AGE = 14 * 86400  # a grid worker stays logged in on their phone for two weeks
LOGGING_CONFIG = None  # the CLI sets up logging; no names or health data in it
