from rest_framework import exceptions, permissions

from integrations.models import ApiKey


class HasScope(permissions.BasePermission):
    """The one auth policy of every API family.

    - An API key must hold every scope ``view.get_required_scopes(request)`` names (403 otherwise,
      naming the missing scopes).
    - A signed-in staff user may read; writes need ``view.staff_may_write`` (and the services
      then check the user's role). A signed-in non-staff user gets 403.
    - No credentials at all: 401 with ``WWW-Authenticate``.
    """

    message = "This API key lacks a required scope."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            required = scopes_required(view, request)
            if required is None:
                self.message = "This operation needs a staff session; no API key scope grants it."
                return False
            if request.auth.has_scopes(required):
                return True
            missing = sorted(set(required) - set(request.auth.scopes or []))
            self.message = f"This API key lacks the scope(s): {', '.join(missing)}."
            return False
        user = request.user
        if user is None or not user.is_authenticated:
            raise exceptions.NotAuthenticated("Send an API key in the Authorization header: 'Api-Key <key>'.")
        if not user.is_staff:
            self.message = "This API is for Kiln staff and API keys."
            return False
        if request.method in permissions.SAFE_METHODS or getattr(view, "staff_may_write", False):
            return True
        self.message = "Writes need an API key with the right scope."
        return False


def scopes_required(view, request) -> list[str] | None:
    getter = getattr(view, "get_required_scopes", None)
    if getter is not None:
        return getter(request)
    return list(getattr(view, "required_scopes", None) or [])
