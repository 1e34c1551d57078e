"""Django's settings, built from the active community configuration (config.activate())."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from eldergate.community.config import active
from eldergate.community.keys import data_key, secret_key


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
    options = {"target_session_attrs": "read-write"} if len(hosts) > 1 else {}
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
