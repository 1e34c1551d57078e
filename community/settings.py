"""Django's settings, built from the active community configuration (config.activate())."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from csp.constants import NONCE, NONE, SELF

from eldergate.community.config import CommunityConfig, active
from eldergate.community.keys import data_key, secret_key

LIBPQ_TLS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl")


def database(url: str, data_dir: Path, pool_size: int = 20) -> dict[str, Any]:
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
        # a bounded pool (psycopg_pool): a new connection per ingest batch cost 3 ms (8 % of the
        # ingest's time), and persistent per-thread connections leaked under ASGI (195 of 200 with
        # idle streams open); the pool checks a connection before handing it out, so a restarted
        # PostgreSQL costs one failed batch at most, and a request waits at most 10 s for a slot
        "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": True,  # the pool's own check, before handing one out
        # server-side binding: parameters travel apart from the statement instead of being quoted
        # into it in Python (psycopg's client-side default): a 10,000-home replay's batches of
        # inserts drained in 13 s instead of 16-18, and a fresh fall's p99 meanwhile fell from
        # 1.7-2.1 s to 0.5 s (bench/community_load.py, docs/deploy-city.md)
        "OPTIONS": options | {"server_side_binding": True,
                              "pool": {"min_size": 1, "max_size": pool_size, "timeout": 10.0}},
    }


def allowed_hosts(cfg: CommunityConfig) -> list[str]:
    hosts = {"localhost", "127.0.0.1", "[::1]"}
    if cfg.server.public_url:
        hosts.add(urlsplit(cfg.server.public_url).hostname or "localhost")
    listen_host = cfg.server.host_port()[0]
    if listen_host not in ("0.0.0.0", "::", ""):
        hosts.add(f"[{listen_host}]" if ":" in listen_host else listen_host)
    return sorted(hosts | set(cfg.server.allowed_hosts))


_cfg = active()

SECRET_KEY = secret_key(_cfg)
DATA_KEY = data_key(_cfg)
DEBUG = False
# the names this server answers to: its public address, its listening address, loopback (a Host
# header naming anything else is refused, so a forged link or DNS rebinding cannot reach it)
ALLOWED_HOSTS = allowed_hosts(_cfg)
INSTALLED_APPS = [
    "eldergate.community.admin_site.OperatorAdminConfig", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
    "axes", "csp", "django_otp", "django_otp.plugins.otp_totp", "eldergate.community.apps.CommunityConfig",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the second factor was given
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a locked-out login into the lockout page
]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# login throttling and the login audit (django-axes): 5 wrong passwords for one user from one address
# lock that pair out for 15 minutes; every attempt, good or bad, is kept in its access log
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "eldergate.community.web.login.client_ip"
AXES_LOCKOUT_CALLABLE = "eldergate.community.web.login.locked_out"
AXES_VERBOSE = False  # no user names in the log
# Content-Security-Policy: this server's own scripts, styles and images only; the inline <script>
# and <style> blocks carry the request's nonce; no frames, no plugins, forms post only here
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
    "default-src": [SELF], "script-src": [SELF, NONCE], "style-src": [SELF, NONCE],
    "img-src": [SELF, "data:"], "connect-src": [SELF], "font-src": [SELF], "object-src": [NONE],
    "base-uri": [NONE], "frame-ancestors": [NONE], "form-action": [SELF],
}}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"  # a push link's alert address never leaks to another site
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
if _cfg.server.behind_proxy:  # the proxy terminates TLS and sets this header itself, on every request
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True  # a plain-HTTP request that reached the server anyway is sent to HTTPS
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]  # the local watchdog asks over loopback
    SECURE_HSTS_SECONDS = 365 * 86400
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # preloading into browsers' HSTS list is a submission the community's domain owner makes, not us
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
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
DATABASES = {"default": database(_cfg.server.database, _cfg.server.data_dir, _cfg.server.db_pool_size)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = _cfg.server.language
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
USE_I18N = True
USE_TZ = True
TIME_ZONE = _cfg.server.time_zone
STATIC_URL = "/static/"
LOGIN_URL = "login"  # a URL name (community/urls.py)
SESSION_COOKIE_AGE = 14 * 86400  # a grid worker stays logged in on their phone for two weeks
LOGGING_CONFIG = None  # the CLI sets up logging; no names or health data in it
