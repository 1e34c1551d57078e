"""The least Django settings the type checker's plugin needs to know the models (no keys, no database)."""

SECRET_KEY = "typecheck-only"
DATA_KEY = ""
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
    "django_otp", "django_otp.plugins.otp_totp", "eldergate.community.apps.CommunityConfig",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
AXES_COOLOFF_TIME = __import__("datetime").timedelta(minutes=15)
