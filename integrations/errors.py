"""One error body shape for every ingestion endpoint.

    {"code": "invalid", "detail": "human summary", "errors": {"field.path": ["message", ...]}}

Nested serializer errors are flattened to dotted paths (``lines[0].listing``) so the field is
always named.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request body."
    default_code = "idempotency_key_reused"


class LifecycleConflict(exceptions.APIException):
    """An event arrived before the events it depends on; the client should send those first."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "missing_prerequisite"

    def __init__(self, detail: str, *, missing: list[str]):
        super().__init__(detail)
        self.missing = missing


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """Turns DRF's nested error detail into ``{"a.b[0].c": ["msg"]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for name, value in detail.items():
            if isinstance(name, int):
                key = f"{prefix}[{name}]"
            elif name == "non_field_errors":
                key = prefix or name
            else:
                key = f"{prefix}.{name}" if prefix else str(name)
            for k, msgs in flatten_errors(value, key).items():
                flat.setdefault(k, []).extend(msgs)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            flat.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if not item:
                    continue
                for k, msgs in flatten_errors(item, f"{prefix}[{index}]").items():
                    flat.setdefault(k, []).extend(msgs)
    else:
        flat.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return flat


def error_body(*, code: str, detail: str, errors: dict[str, list[str]] | None = None, **extra) -> dict:
    body = {"code": code, "detail": detail, "errors": errors or {}}
    body.update(extra)
    return body


def validation_summary(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()) or "Invalid input."


def api_exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, exceptions.ParseError):
        return Response(
            error_body(code="malformed_body", detail=str(exc.detail), errors={"body": [str(exc.detail)]}),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        return Response(
            error_body(code="invalid", detail=validation_summary(errors), errors=errors),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, LifecycleConflict):
        return Response(
            error_body(code=exc.default_code, detail=str(exc.detail), missing=exc.missing),
            status=exc.status_code,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, Http404):
        code = "not_found"
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
    else:
        code = "error"
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
    response.data = error_body(code=str(code), detail=str(detail))
    return response


def api_path_not_found(request, exception=None):
    """handler404: a path under /api/ that no route matches (``members/abc/`` for an integer id)
    answers in the shared error shape; other paths get Django's page."""
    if request.path.startswith("/api/"):
        # /api/ and /api/v1/ are where an integrator starts: point at the list of endpoints.
        detail = f"No such API path. The endpoints are listed at {reverse('api-docs')} (OpenAPI schema: {reverse('api-schema')})."
        return JsonResponse(error_body(code="not_found", detail=detail), status=404)
    return page_not_found(request, exception)


def api_server_error(request):
    """handler500: the shared error shape under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code="server_error", detail="Server error."), status=500)
    return server_error(request)
