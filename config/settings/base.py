"""Kiln settings. Every deployment-specific value comes from the environment.

With nothing set, Kiln runs on an embedded SQLite file under ``var/`` and runs
Celery tasks eagerly in-process, so a fresh checkout works with no services.
"""

from pathlib import Path

import dj_database_url

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", default=True)
# The fallback key is only for the embedded development setup; production.py requires a real one.
SECRET_KEY = env_str("SECRET_KEY", "kiln-insecure-development-key-change-me-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# Key of the intervention holdout draw (retention.interventions.holdout_draw). Empty: the
# SECRET_KEY is used. Set it to keep the arms of re-runs on a flag day through a key rotation.
HOLDOUT_SALT = env_str("HOLDOUT_SALT", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "core",
    "integrations",
    "sellers",
    "buyers",
    "marketplace",
    "casework",
    "scoring",
    "retention",
    "loyalty",
    "feedback",
    "dashboard",
    "workflows",
    "simulation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "integrations.middleware.ChunkedBodyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'kiln.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # SQLite serialises writers; a busy timeout turns lock contention into waiting, not errors.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Dates on every page as the back-office writes them ("3 Dec 2026 14:07", core.formatting); the
# locale's formats would win over DATE_FORMAT settings, so they live in a format module.
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the app and vendor folders in development; production serves collected files.
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

LOGIN_URL = "admin:login"

# Locally, sent mail lands as files under var/mail so the demo's notices can be read there.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Kiln <kiln@localhost>")
# The outbound policy (core.messaging). Links in emails point here (unsubscribe).
KILN_PUBLIC_URL = env_str("KILN_PUBLIC_URL", "http://localhost:8000")
# Hold buyer and artisan mail during their quiet hours; worker processes started by tests turn it
# off so a delivery test does not depend on the time of day it runs.
MESSAGING_QUIET_HOURS = env_bool("MESSAGING_QUIET_HOURS", default=True)

TEAM_EMAILS = {
    "customer_success": env_str("TEAM_EMAIL_CUSTOMER_SUCCESS", "cs@localhost"),
    "seller_support": env_str("TEAM_EMAIL_SELLER_SUPPORT", "seller-support@localhost"),
    "marketplace_admin": env_str("TEAM_EMAIL_MARKETPLACE_ADMIN", "admins@localhost"),
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    }
}
if env_str("CACHE_URL", ""):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL"),
    }

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
# No broker configured means the embedded setup: run every task in-process.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
# Chords (the pipeline's fan-out) need a result backend; Redis serves as both by default.
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else None
)
CELERY_RESULT_EXPIRES = 24 * 60 * 60
# A chunk that finishes while Redis restarts waits for it to come back to record its result:
# the result is the chord's count of finished chunks, and a lost one leaves the level waiting
# for the watchdog. Backoff doubles from 10 ms up to 10 s, so 40 tries cover minutes of outage.
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 40
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only after it finished, so a killed worker's task is redelivered;
# every task is therefore written to be idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Four queues, so heavy recomputes never delay the small follow-ups of incoming data, and a burst
# of emails never delays the pipeline's coordination:
#   recompute - nightly chunks, model training, bulk recomputes (CPU and database heavy)
#   ingest    - per-subject reactions to storefront and survey data (small, latency matters)
#   notify    - outbox deliveries (one email each; a nightly expiry run queued 26,000 reminders)
#   default   - pipeline coordination, anything else
# The first matching pattern wins.
CELERY_TASK_ROUTES = {
    "core.pipeline.chunk": {"queue": "recompute"},
    "core.outbox.*": {"queue": "notify"},
    "integrations.run_reactions": {"queue": "ingest"},
    "scoring.rescore_seller": {"queue": "ingest"},
    "sellers.application_received": {"queue": "ingest"},
    "loyalty.order_points_sync": {"queue": "ingest"},
    "loyalty.engagement_points": {"queue": "ingest"},
    "loyalty.review_points": {"queue": "ingest"},
    "feedback.process_responses": {"queue": "ingest"},
    "scoring.*": {"queue": "recompute"},
    "buyers.*": {"queue": "recompute"},
    "loyalty.*": {"queue": "recompute"},
    "dashboard.*": {"queue": "recompute"},
    "sellers.*": {"queue": "recompute"},
    "marketplace.late_order_outreach": {"queue": "recompute"},
}
# How long a delivered but unacknowledged task waits before Redis hands it to another worker.
# It must exceed the longest task: 900 s is over five times the longest measured at the target
# size (163 s, docs/scaling.md). A killed worker's chunk does not wait for it: the pipeline's
# watchdog re-sends a quiet level within minutes (PIPELINE_STALL_SECONDS below).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 15 * 60)}
# A prefix on every Redis key the broker writes, so a benchmark or a second deployment sharing a
# Redis database can remove exactly its own queues (bench/storefront_ingest.py does).
if env_str("CELERY_REDIS_KEY_PREFIX", ""):
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env_str("CELERY_REDIS_KEY_PREFIX", "")
CELERY_TIMEZONE = TIME_ZONE

# Database sessions, refusing keys with NUL characters (integrations/sessions.py).
SESSION_ENGINE = "integrations.sessions"

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "integrations.openapi.KilnAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env_str("API_KEY_THROTTLE_RATE", "6000/min"),
        "user": "600/min",
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kiln API",
    "DESCRIPTION": "Operations back-office for a handmade-artisan marketplace.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "integrations.openapi.error_responses_hook"],
    "ENUM_NAME_OVERRIDES": {
        "CraftCategoryEnum": "sellers.models.CraftCategory",
        "OrderStatusEnum": "marketplace.models.OrderStatus",
        "CaseStatusEnum": "casework.models.CaseStatus",
        "ItemResultStatusEnum": ["created", "updated", "duplicate", "rejected"],
        "RuleKindEnum": "loyalty.models.RuleKind",
        "EngagementKindEnum": "marketplace.models.EngagementKind",
    },
}
# Bodies above this are refused with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Keys per pipeline chunk (see workflows/pipeline.py). Measured at 2,000 (bench/pipeline.py, 62k
# orders, inline): a buyer-retention chunk took about 1.1 s, a loyalty-award chunk about 0.4 s,
# with about 560 MB peak RSS per worker. Larger chunks mean fewer chord round trips but longer
# transactions and more memory per task.
PIPELINE_CHUNK_SIZE = env_int("PIPELINE_CHUNK_SIZE", 2000)
PIPELINE_STAGES = env_str("PIPELINE_STAGES", "workflows.stages:STAGES")
# Liveness (workflows/pipeline.py). A running chunk or finalize step beats every HEARTBEAT seconds;
# the watchdog (beat, every WATCHDOG seconds) re-sends the level of a run quiet for STALL seconds,
# at most MAX_REDISPATCHES times, then fails it with the reason. The lease lapses LEASE seconds
# after the last beat; it outlasts STALL + WATCHDOG so the watchdog acts before another run can
# take over. Defaults: a dead worker's run moves again within about 2.5 minutes.
PIPELINE_HEARTBEAT_SECONDS = env_int("PIPELINE_HEARTBEAT_SECONDS", 20)
PIPELINE_STALL_SECONDS = env_int("PIPELINE_STALL_SECONDS", 90)
PIPELINE_WATCHDOG_SECONDS = env_int("PIPELINE_WATCHDOG_SECONDS", 60)
PIPELINE_LEASE_SECONDS = env_int("PIPELINE_LEASE_SECONDS", 300)
PIPELINE_MAX_REDISPATCHES = env_int("PIPELINE_MAX_REDISPATCHES", 3)

KILN_MODEL_DIR = Path(env_str("KILN_MODEL_DIR", str(VAR_DIR / "models")))
