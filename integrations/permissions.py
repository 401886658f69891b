from rest_framework import exceptions, permissions

from integrations.models import ApiKey


class HasScope(permissions.BasePermission):
    """Allows an API key holding every scope in ``view.required_scopes``.

    Staff signed in through the admin may use safe (read) methods; writes need a key.
    Missing credentials give 401, a valid key without the scope gives 403.
    """

    message = "This API key lacks a required scope."

    def has_permission(self, request, view) -> bool:
        required = getattr(view, "required_scopes", None) or []
        if isinstance(request.auth, ApiKey):
            if request.auth.has_scopes(required):
                return True
            self.message = f"This API key lacks the scope(s): {', '.join(sorted(set(required) - set(request.auth.scopes or [])))}."
            return False
        user = request.user
        if user is None or not user.is_authenticated:
            raise exceptions.NotAuthenticated("Send an API key in the Authorization header: 'Api-Key <key>'.")
        if request.method in permissions.SAFE_METHODS and user.is_staff:
            return True
        self.message = "Writes need an API key with the right scope."
        return False
