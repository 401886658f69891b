"""The base views and decorators every API endpoint is built from.

    class ThingCreateApi(IngestAPIView):
        required_scopes = ["storefront:write"]

        @idempotent
        def post(self, request): ...

gives: one auth policy (missing or invalid credentials 401 with ``WWW-Authenticate``, a key
without the scope or a session without the role 403), 405 for unsupported methods before any
credential is looked at, per-key throttling (429), a 413 for oversize bodies checked from
Content-Length before anything is parsed, a 404 for path segments no object can have (NUL),
the shared error body, and ``Idempotency-Key`` replay.

``KilnAPIView`` is the base of every API family (storefront, feedback, loyalty, retention,
scoring); ``IngestAPIView`` is the same view under its older name.
"""

import functools
import hashlib
import json
import re

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.authentication import ApiKeyAuthentication
from integrations.errors import IdempotencyConflict, PayloadTooLarge, api_exception_handler
from integrations.models import ApiKey, IdempotencyRecord
from integrations.permissions import HasScope
from integrations.throttling import ApiKeyRateThrottle

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
# json.dumps writes a NUL as \u0000; an even run of backslashes before it would be literal text.
ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
REPLAY_HEADER = "Idempotent-Replayed"

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional, up to 255 characters, unique per API key. A retry with the same key and body returns the "
        "original status and body; the same key with a different body gets 422."
    ),
)

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)

ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="Malformed JSON or invalid input; `errors` names each field."),
    401: OpenApiResponse(ErrorSerializer, description="Missing or invalid API key."),
    403: OpenApiResponse(ErrorSerializer, description="The API key lacks the required scope."),
    413: OpenApiResponse(ErrorSerializer, description="Body larger than the configured limit."),
    422: OpenApiResponse(ErrorSerializer, description="Idempotency-Key reused with a different body."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests for this API key."),
}
# Answers any operation can give, added to every operation of the schema by
# integrations.openapi.error_responses_hook so the documented statuses are the complete list.
COMMON_ERROR_DESCRIPTIONS = {
    400: "Malformed JSON or invalid input; `errors` names each field.",
    401: "Missing or invalid credentials (`WWW-Authenticate` says how to authenticate).",
    403: "Authenticated, but the key lacks the scope or the user the role.",
    404: "No such object.",
    405: "Method not allowed on this path.",
    406: "The Accept header asks for a format this endpoint does not give.",
    413: "Body larger than the configured limit.",
    415: "Unsupported media type; send application/json.",
    429: "Too many requests for this API key or user.",
}


def request_size_check(request) -> None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise PayloadTooLarge(f"Request body is {length} bytes; the limit is {limit} bytes.")


class ServiceErrorsMixin:
    """Turns the services' Django errors into DRF ones: a field-named 400, or a 403."""

    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
        elif isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied(str(exc))
        return super().handle_exception(exc)


class StrictJSONParser(JSONParser):
    """JSON, minus what the database cannot store: NUL characters and lone UTF-16 surrogates
    (valid JSON escapes, but PostgreSQL text refuses the first and UTF-8 cannot encode the second)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        try:
            text = json.dumps(data, ensure_ascii=False)
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError("Body contains an invalid Unicode escape (a lone surrogate).") from None
        except (TypeError, ValueError):
            return data
        if ESCAPED_NUL.search(text):
            raise ParseError("Body contains a NUL character (\\u0000), which Kiln cannot store.")
        return data


def method_allowed_check(view, request) -> None:
    """405 before authentication: an unsupported method (TRACE, or PUT on a read-only path) is
    the same answer for everyone, so it does not depend on the caller's credentials."""
    method = request.method.lower()
    if method not in view.http_method_names or not hasattr(view, method):
        raise exceptions.MethodNotAllowed(request.method)


# The largest id a database primary key (a signed 64-bit integer) can hold.
MAX_DATABASE_ID = 2**63 - 1


def path_arguments_check(kwargs) -> None:
    """A path segment with a NUL, or an id beyond a 64-bit key, cannot name any stored object
    (PostgreSQL text refuses NUL; an oversize integer overflows the driver)."""
    for value in kwargs.values():
        if (isinstance(value, str) and "\x00" in value) or (isinstance(value, int) and not 0 <= value <= MAX_DATABASE_ID):
            raise exceptions.NotFound("No such object.")


def query_params_check(request) -> None:
    """A NUL in a query parameter would reach the database as text it refuses: 400 naming it."""
    for name, values in request.query_params.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            raise exceptions.ValidationError({name.replace("\x00", "\\0"): ["Must not contain a NUL character."]})


def query_int(request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter within [minimum, maximum], or a 400 naming it."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise exceptions.ValidationError({name: ["A whole number."]}) from None
    if not minimum <= value <= maximum:
        raise exceptions.ValidationError({name: [f"Must be between {minimum} and {maximum}."]})
    return value


class KilnAPIView(ServiceErrorsMixin, APIView):
    """The base of every API family: one auth policy, one error shape.

    Key callers need ``get_required_scopes()`` (``required_scopes`` by default); staff sessions
    may read, and write only where ``staff_may_write`` says so (roles are then checked by the
    services, whose PermissionDenied becomes 403).
    """

    # The key authenticator comes first: its WWW-Authenticate header is what makes DRF answer
    # 401 (not 403) to a request without credentials.
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [StrictJSONParser]
    required_scopes: list[str] = []
    staff_may_write = False

    def get_required_scopes(self, request) -> list[str]:
        return list(self.required_scopes)

    def initial(self, request, *args, **kwargs):
        method_allowed_check(self, request)
        # Before authentication and parsing: an oversize body is refused without being read.
        request_size_check(request)
        path_arguments_check(kwargs)
        super().initial(request, *args, **kwargs)
        # After authentication, so an anonymous caller learns nothing but 401.
        query_params_check(request)

    def get_exception_handler(self):
        return api_exception_handler


IngestAPIView = KilnAPIView


def _request_hash(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.path.encode())
    digest.update(b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def idempotent(view_method):
    """Honours the ``Idempotency-Key`` header on an IngestAPIView method.

    The record is inserted in the same transaction as the work. A concurrent request with the
    same key blocks on the unique index until the first commits, then replays its answer, so
    two identical concurrent posts have exactly one effect. 5xx and 409 answers are not stored.
    """

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        raw_key = request.headers.get(IDEMPOTENCY_HEADER)
        if raw_key is None or not isinstance(request.auth, ApiKey):
            return view_method(self, request, *args, **kwargs)
        key = raw_key.strip()
        if not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
            raise serializers.ValidationError(
                {IDEMPOTENCY_HEADER: ["Must be 1 to 255 visible ASCII characters (no spaces or control characters)."]}
            )
        request_hash = _request_hash(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        api_key=request.auth,
                        key=key,
                        method=request.method,
                        path=request.path[:255],
                        request_hash=request_hash,
                        status_code=0,
                    )
            except IntegrityError:
                record = IdempotencyRecord.objects.get(api_key=request.auth, key=key)
                if record.request_hash != request_hash:
                    raise IdempotencyConflict(
                        f"Idempotency-Key '{key}' was already used for a different request "
                        f"({record.method} {record.path} with another body). Use a new key."
                    ) from None
                response = Response(record.response_body, status=record.status_code)
                response[REPLAY_HEADER] = "true"
                return response
            try:
                response = view_method(self, request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - API errors become stored answers; others re-raise
                response = self.handle_exception(exc)
            # Server errors and 409 "send the missing event first" are worth retrying with the
            # same key, so they are not stored.
            if response.status_code >= 500 or response.status_code == 409:
                transaction.set_rollback(True)
                return response
            record.status_code = response.status_code
            record.response_json = json.dumps(response.data, cls=DjangoJSONEncoder, ensure_ascii=True)
            record.save(update_fields=["status_code", "response_json"])
            return response

    return wrapper
