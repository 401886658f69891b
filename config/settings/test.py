from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests run tasks in-process unless a test starts a real worker on purpose.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
KILN_MODEL_DIR = BASE_DIR / "var" / "test-models"  # noqa: F405
# Quiet hours depend on the wall clock; tests that exercise them switch this back on.
MESSAGING_QUIET_HOURS = False
