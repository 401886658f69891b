"""Webhook signature checks, each following the tool's own documentation.

- Typeform: ``Typeform-Signature: sha256=<base64 of HMAC-SHA256(secret, raw body)>``.
- Delighted: ``X-Delighted-Webhook-Signature: sha256=<hex of HMAC-SHA256(secret, raw body)>``,
  where the secret is the project's private API key.

- Qualtrics event subscriptions (form-encoded ``Topic``, ``MSG``, ``HMAC`` fields): ``HMAC`` is the
  hex HMAC-SHA512 of the ``MSG`` field's text with the subscription's ``sharedKey``.
- SurveyMonkey: ``Sm-Signature: <base64 of HMAC-SHA1("<client id>&<client secret>", raw body)>``,
  with ``Sm-Apikey`` naming the client ID.

They are computed over the bytes (or, for Qualtrics, the field) as received; re-serialised JSON
would not match. Secrets are never logged or echoed back.
"""

import base64
import hashlib
import hmac

TYPEFORM_HEADER = "Typeform-Signature"
DELIGHTED_HEADER = "X-Delighted-Webhook-Signature"
SURVEYMONKEY_HEADER = "Sm-Signature"
SURVEYMONKEY_KEY_HEADER = "Sm-Apikey"


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


def qualtrics_hmac(*, shared_key: str, msg: str) -> str:
    return hmac.new(shared_key.encode(), msg.encode(), hashlib.sha512).hexdigest()


def qualtrics_signature_valid(*, shared_key: str, msg: str | None, header: str | None) -> bool:
    if not shared_key or msg is None or not header:
        return False
    return hmac.compare_digest(qualtrics_hmac(shared_key=shared_key, msg=msg).encode(), header.strip().lower().encode())


def surveymonkey_signature(*, client_id: str, client_secret: str, body: bytes) -> str:
    key = f"{client_id}&{client_secret}".encode()
    return base64.b64encode(hmac.new(key, body, hashlib.sha1).digest()).decode()


def surveymonkey_signature_valid(*, client_id: str, client_secret: str, body: bytes, header: str | None) -> bool:
    if not client_id or not client_secret or not header:
        return False
    expected = surveymonkey_signature(client_id=client_id, client_secret=client_secret, body=body)
    return hmac.compare_digest(expected.encode(), header.strip().encode())
