from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from integrations.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Per-key request rate, from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"].

    Staff sessions are throttled per user with the same rate.
    """

    scope = "api_key"

    def get_rate(self):
        # Read at request time so a settings override (tests, environment) applies.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
