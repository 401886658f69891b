"""Webhook signature checks, each following the tool's own documentation.

- Typeform: ``Typeform-Signature: sha256=<base64 of HMAC-SHA256(secret, raw body)>``.
- Delighted: ``X-Delighted-Webhook-Signature: sha256=<hex of HMAC-SHA256(secret, raw body)>``,
  where the secret is the project's private API key.

Both are computed over the raw bytes as received; re-serialised JSON would not match.
Secrets are never logged or echoed back.
"""

import base64
import hashlib
import hmac

TYPEFORM_HEADER = "Typeform-Signature"
DELIGHTED_HEADER = "X-Delighted-Webhook-Signature"


def _digest(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def typeform_signature(*, secret: str, body: bytes) -> str:
    return "sha256=" + base64.b64encode(_digest(secret, body)).decode()


def delighted_signature(*, secret: str, body: bytes) -> str:
    return "sha256=" + _digest(secret, body).hex()


def signature_valid(*, kind: str, secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    expected = typeform_signature(secret=secret, body=body) if kind == "typeform" else delighted_signature(secret=secret, body=body)
    return hmac.compare_digest(expected.encode(), header.strip().encode())
