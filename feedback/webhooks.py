"""Webhook deliveries: who may post (the signature), what they may post (the content type), and
what happens next. Typeform and Delighted carry the whole response; Qualtrics and SurveyMonkey
only announce one, which a task then fetches from the provider's API (feedback.connectors)."""

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from django.db import transaction

from feedback.models import WEBHOOK_KINDS, FeedbackSource, Response, SourceKind
from feedback.parsing import Catalog, ItemError, parse_delighted, parse_typeform
from feedback.services import Status, responses_ingest
from feedback.signatures import (
    DELIGHTED_HEADER,
    SURVEYMONKEY_HEADER,
    TYPEFORM_HEADER,
    qualtrics_signature_valid,
    signature_valid,
    surveymonkey_signature_valid,
)

# Provider IDs go into the provider's URL path when fetching: letters, digits, _ and - only.
PROVIDER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
FORM = "application/x-www-form-urlencoded"


class UnsupportedContentType(Exception):
    pass


@dataclass
class Delivery:
    content_type: str
    headers: dict
    body: bytes

    @property
    def media_type(self) -> str:
        return (self.content_type or "").split(";")[0].strip().lower()

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class Outcome:
    status_code: int
    body: dict


def webhook_source(slug: str) -> FeedbackSource | None:
    return FeedbackSource.objects.filter(slug=slug, kind__in=WEBHOOK_KINDS, is_active=True).first()


def webhook_authentic(*, source: FeedbackSource, delivery: Delivery) -> bool:
    """The provider's documented signature check (feedback.signatures)."""
    if source.kind == SourceKind.QUALTRICS:
        form = delivery.form()
        return qualtrics_signature_valid(shared_key=source.secret, msg=form.get("MSG"), header=form.get("HMAC"))
    if source.kind == SourceKind.SURVEYMONKEY:
        return surveymonkey_signature_valid(
            client_id=source.client_id, client_secret=source.secret, body=delivery.body,
            header=delivery.headers.get(SURVEYMONKEY_HEADER),
        )
    header = TYPEFORM_HEADER if source.kind == SourceKind.TYPEFORM else DELIGHTED_HEADER
    return signature_valid(kind=source.kind, secret=source.secret, body=delivery.body, header=delivery.headers.get(header))


def _is_json(media_type: str) -> bool:
    # SurveyMonkey sends application/vnd.surveymonkey.<event>.v1+json.
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _json_body(body: bytes, *, what: str = "body"):
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ItemError({what: ["Malformed JSON."]}) from None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _provider_id(value, path: str) -> str:
    if not isinstance(value, str) or not PROVIDER_ID.fullmatch(value):
        raise ItemError({path: ["Must be the provider's ID: 1 to 128 letters, digits, _ or -."]})
    return value


def webhook_receive(*, source: FeedbackSource, delivery: Delivery) -> Outcome:
    """Handles an authentic delivery. Raises UnsupportedContentType (415) or ItemError (400)."""
    if source.kind == SourceKind.QUALTRICS:
        return _qualtrics(source, delivery)
    if not _is_json(delivery.media_type):
        raise UnsupportedContentType(delivery.media_type)
    if source.kind == SourceKind.SURVEYMONKEY:
        return _surveymonkey(source, delivery)
    payload = _json_body(delivery.body)
    parse = parse_typeform if source.kind == SourceKind.TYPEFORM else parse_delighted
    (result,) = responses_ingest(source=source, items=[parse(payload, catalog=Catalog(source))])
    if result.status == Status.REJECTED:
        raise ItemError(result.errors)
    return Outcome(201 if result.status == Status.CREATED else 200, result.as_dict())


def _qualtrics(source: FeedbackSource, delivery: Delivery) -> Outcome:
    # Event subscriptions post form fields Topic, MSG (a JSON object) and HMAC.
    if delivery.media_type != FORM:
        raise UnsupportedContentType(delivery.media_type)
    message = _json_body(delivery.form().get("MSG", "").encode(), what="MSG")
    if not isinstance(message, dict):
        raise ItemError({"MSG": ["Must be a JSON object."]})
    survey_id = _provider_id(message.get("SurveyID"), "MSG.SurveyID")
    response_id = _provider_id(message.get("ResponseID"), "MSG.ResponseID")
    return _fetch_later(source, survey_id, response_id)


def _surveymonkey(source: FeedbackSource, delivery: Delivery) -> Outcome:
    event = _json_body(delivery.body)
    if not isinstance(event, dict):
        raise ItemError({"body": ["Must be a JSON object."]})
    if event.get("event_type") != "response_completed":
        # Other events the subscription may carry are acknowledged and not stored.
        return Outcome(200, {"status": "ignored", "external_id": None})
    resources = event.get("resources") if isinstance(event.get("resources"), dict) else {}
    survey_id = _provider_id(resources.get("survey_id") or event.get("filter_id"), "resources.survey_id")
    response_id = _provider_id(event.get("object_id"), "object_id")
    return _fetch_later(source, survey_id, response_id)


def _fetch_later(source: FeedbackSource, survey_id: str, response_id: str) -> Outcome:
    """202 and a fetch after commit; a replay of a stored response is answered without a fetch."""
    if Response.objects.filter(source=source, external_id=response_id).exists():
        return Outcome(200, {"status": Status.DUPLICATE, "external_id": response_id})
    from feedback.tasks import fetch_webhook_response_task

    transaction.on_commit(lambda: fetch_webhook_response_task.delay(source.pk, survey_id, response_id))
    return Outcome(202, {"status": "accepted", "external_id": response_id})
