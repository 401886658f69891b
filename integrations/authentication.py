"""API-key authentication: ``Authorization: Api-Key <key>`` (or ``X-Api-Key: <key>``)."""

from rest_framework import authentication, exceptions

from core.roles import MARKETPLACE_ADMIN
from integrations.models import ApiKey

KEYWORD = "Api-Key"
# A key belongs to no user groups; the only role it can act with is granted by an explicit scope.
# The permission layer decides which endpoints a key reaches (loyalty:admin only unlocks loyalty
# configuration writes), so the role only matters in the services those endpoints call.
SCOPE_ROLES = {"loyalty:admin": MARKETPLACE_ADMIN}


class ApiKeyClient:
    """The request.user of a key-authenticated request: a machine, never a staff member."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.pk = None
        self.username = f"api-key:{api_key.prefix}"
        # core.roles.user_roles reads this cache before it would query the (absent) groups.
        self._kiln_roles = {role for scope, role in SCOPE_ROLES.items() if scope in (api_key.scopes or [])}

    def __str__(self):
        return self.username


def _raw_key(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        keyword, _, value = header.partition(" ")
        if keyword.lower() == KEYWORD.lower():
            return value.strip()
        return None
    value = request.META.get("HTTP_X_API_KEY", "")
    return value.strip() or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = _raw_key(request)
        if raw is None:
            return None
        if "\x00" in raw:
            # No key contains one, and PostgreSQL cannot even look it up.
            raise exceptions.AuthenticationFailed("Invalid API key.")
        try:
            api_key = ApiKey.objects.get_from_key(raw)
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("API key has expired.")
        return ApiKeyClient(api_key), api_key

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) when credentials are missing.
        return KEYWORD
