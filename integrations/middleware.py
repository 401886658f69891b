"""Reads chunked request bodies (``Transfer-Encoding: chunked``, no Content-Length).

Django sizes the body stream from Content-Length, so a chunked body reads as empty and every
field is reported missing. The server (gunicorn) de-chunks ``wsgi.input``; this reads it up to
the size limit, answers 413 beyond it, and hands Django the body with its length.
"""

import io

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import JsonResponse

from integrations.errors import error_body


class ChunkedBodyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _is_chunked_without_length(request.META):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            stream = request.META["wsgi.input"]
            body = stream.read() if limit is None else stream.read(limit + 1)
            if limit is not None and len(body) > limit:
                return JsonResponse(
                    error_body(
                        code="payload_too_large",
                        detail=f"Request body is over the limit of {limit} bytes.",
                    ),
                    status=413,
                )
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))
        return self.get_response(request)


def _is_chunked_without_length(meta) -> bool:
    return "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower() and not meta.get("CONTENT_LENGTH") and "wsgi.input" in meta
