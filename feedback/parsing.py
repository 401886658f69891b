"""Turning what survey tools send into validated responses, without touching the database.

Every tool's payload (Kiln's native JSON, Typeform, Delighted, a CSV/JSON export) becomes a
``ParsedResponse``; anything wrong becomes an ``ItemError`` that names the field. Identity
lookups and writes happen later, in ``feedback.services``.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.fields import event_time_problem

from feedback.models import KIND_SCALES, FeedbackSource, Question, QuestionKind, Survey

IDENTITY_KEYS = ("email", "buyer_id", "seller_id", "order_id", "external_id")
MAX_TEXT = 10_000
MAX_ID = 128


class ItemError(Exception):
    """One item is invalid; ``errors`` maps each bad field (dotted path) to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class ParsedAnswer:
    question: Question
    number: float | None = None
    text: str = ""
    choices: list = field(default_factory=list)


@dataclass
class ParsedResponse:
    external_id: str
    survey: Survey
    submitted_at: datetime
    identity: dict
    answers: list[ParsedAnswer]
    extras: dict = field(default_factory=dict)
    # Set by tools that resend a changed response (Delighted); a later value is an update.
    updated_at: datetime | None = None

    @property
    def nps(self) -> int | None:
        return next((int(a.number) for a in self.answers if a.question.kind == QuestionKind.NPS and a.number is not None), None)

    @property
    def csat(self) -> int | None:
        return next((int(a.number) for a in self.answers if a.question.kind == QuestionKind.CSAT and a.number is not None), None)

    @property
    def text(self) -> str:
        return "\n".join(a.text for a in self.answers if a.question.kind == QuestionKind.FREE_TEXT and a.text)


class Catalog:
    """Surveys, questions and a source's external question IDs, loaded once per request."""

    def __init__(self, source: FeedbackSource):
        self.source = source
        surveys = Survey.objects.filter(is_active=True).prefetch_related("questions")
        self.surveys = {s.slug: s for s in surveys}
        self.questions: dict[int, dict[str, Question]] = {
            s.pk: {q.key: q for q in s.questions.all()} for s in surveys
        }
        by_pk = {q.pk: q for qs in self.questions.values() for q in qs.values()}
        self.external = {
            ext_id: by_pk[q_id]
            for ext_id, q_id in source.question_map.values_list("external_id", "question_id")
            if q_id in by_pk
        }
        self.default_survey = self.surveys_by_pk().get(source.survey_id)

    def surveys_by_pk(self) -> dict[int, Survey]:
        return {s.pk: s for s in self.surveys.values()}

    def question(self, survey: Survey, name: str) -> Question | None:
        question = self.questions.get(survey.pk, {}).get(name)
        if question is None:
            mapped = self.external.get(name)
            if mapped is not None and mapped.survey_id == survey.pk:
                question = mapped
        return question

    def first_of_kind(self, survey: Survey, *kinds: str) -> Question | None:
        for kind in kinds:
            for question in self.questions.get(survey.pk, {}).values():
                if question.kind == kind:
                    return question
        return None


def storable(value, path: str = "body", depth: int = 0) -> None:
    """Rejects text PostgreSQL cannot store (NUL characters, lone surrogates) and absurd nesting."""
    if depth > 32:
        raise ItemError({path: ["Nested too deeply."]})
    if isinstance(value, str):
        if "\x00" in value:
            raise ItemError({path: ["NUL characters are not allowed."]})
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ItemError({path: ["Not valid Unicode text."]}) from None
    elif isinstance(value, dict):
        for key, child in value.items():
            storable(key, path, depth + 1)
            storable(child, f"{path}.{key}" if depth < 3 else path, depth + 1)
    elif isinstance(value, list):
        for child in value:
            storable(child, path, depth + 1)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def coerce_answer(question: Question, value, path: str) -> ParsedAnswer:
    """Checks one value against its question's kind; raises ItemError naming ``path``."""
    kind = question.kind
    if kind in (QuestionKind.NPS, QuestionKind.CSAT):
        low, high = KIND_SCALES[kind]
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if not _is_number(value) or value != int(value) or not low <= value <= high:
            label = "NPS" if kind == QuestionKind.NPS else "CSAT"
            raise ItemError({path: [f"{label} must be a whole number from {low} to {high}; got {value!r}."]})
        return ParsedAnswer(question, number=int(value))
    if kind == QuestionKind.RATING:
        low, high = question.bounds
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if not _is_number(value) or not low <= value <= high:
            raise ItemError({path: [f"Rating must be a number from {low} to {high}; got {value!r}."]})
        return ParsedAnswer(question, number=float(value))
    if kind == QuestionKind.SINGLE_CHOICE:
        if isinstance(value, bool):
            value = "yes" if value else "no"
        if not isinstance(value, str) or not value:
            raise ItemError({path: ["Must be one choice label (a string)."]})
        # "yes" from a yes/no field matches a question whose choices are spelled "Yes".
        value = next((c for c in question.choices if isinstance(c, str) and c.lower() == value.lower()), value)
        if question.choices and value not in question.choices:
            raise ItemError({path: [f"{value!r} is not one of {question.choices}."]})
        return ParsedAnswer(question, choices=[value], text=value)
    if kind == QuestionKind.MULTIPLE_CHOICE:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ItemError({path: ["Must be a list of choice labels."]})
        unknown = [v for v in value if question.choices and v not in question.choices]
        if unknown:
            raise ItemError({path: [f"{unknown} not among {question.choices}."]})
        return ParsedAnswer(question, choices=value, text=", ".join(value))
    # Free text.
    if _is_number(value):
        value = str(value)
    if not isinstance(value, str):
        raise ItemError({path: ["Must be text."]})
    if len(value) > MAX_TEXT:
        raise ItemError({path: [f"At most {MAX_TEXT} characters."]})
    return ParsedAnswer(question, text=value.strip())


def parse_timestamp(value, path: str, *, default: datetime | None = None) -> datetime:
    if value in (None, ""):
        if default is not None:
            return default
        raise ItemError({path: ["This field is required."]})
    if _is_number(value):
        try:
            return _event_time(datetime.fromtimestamp(value, tz=UTC), path)
        except (OverflowError, OSError, ValueError):
            raise ItemError({path: ["Not a valid Unix timestamp."]}) from None
    if not isinstance(value, str):
        raise ItemError({path: ["Must be an ISO 8601 date-time."]})
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ItemError({path: ["Must be an ISO 8601 date-time, e.g. 2026-03-01T12:00:00Z."]})
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return _event_time(parsed, path)


def _event_time(value: datetime, path: str) -> datetime:
    problem = event_time_problem(value)
    if problem:
        raise ItemError({path: [problem]})
    return value


def clean_identity(raw, path: str) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ItemError({path: ["Must be an object with email, buyer_id, seller_id, order_id or external_id."]})
    identity, errors = {}, {}
    for key in IDENTITY_KEYS:
        value = raw.get(key)
        if value in (None, ""):
            continue
        if _is_number(value) and key != "email":
            value = str(int(value)) if value == int(value) else str(value)
        if not isinstance(value, str) or len(value) > 254:
            errors[f"{path}.{key}"] = ["Must be a string of at most 254 characters."]
            continue
        value = value.strip()
        if key == "email":
            if "@" not in value or " " in value:
                errors[f"{path}.{key}"] = ["Enter a valid email address."]
                continue
            value = value.lower()
        identity[key] = value
    if errors:
        raise ItemError(errors)
    if not identity:
        raise ItemError({path: [f"Identify the respondent with at least one of: {', '.join(IDENTITY_KEYS)}."]})
    return identity


def clean_external_id(value, path: str = "external_id") -> str:
    if _is_number(value):
        value = str(int(value)) if value == int(value) else str(value)
    if not isinstance(value, str) or not value.strip():
        raise ItemError({path: ["This field is required (the tool's response ID)."]})
    if len(value) > MAX_ID:
        raise ItemError({path: [f"At most {MAX_ID} characters."]})
    return value.strip()


def parse_native_item(raw, *, catalog: Catalog, now: datetime | None = None) -> ParsedResponse:
    """Kiln's own response format::

        {"external_id": "r-1", "survey": "post-purchase", "submitted_at": "2026-03-01T12:00:00Z",
         "respondent": {"email": "...", "buyer_id": "...", "order_id": "..."},
         "answers": {"nps": 9, "comment": "Lovely glaze"}}
    """
    if not isinstance(raw, dict):
        raise ItemError({"item": ["Each response must be a JSON object."]})
    storable(raw, "item")
    errors: dict[str, list[str]] = {}

    def collect(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ItemError as exc:
            errors.update(exc.errors)
            return None

    external_id = collect(clean_external_id, raw.get("external_id"))
    survey_slug = raw.get("survey")
    if survey_slug in (None, ""):
        survey = catalog.default_survey
        if survey is None:
            errors["survey"] = ["This field is required (a survey slug)."]
    elif not isinstance(survey_slug, str) or survey_slug not in catalog.surveys:
        survey = None
        errors["survey"] = [f"Unknown or inactive survey {survey_slug!r}."]
    else:
        survey = catalog.surveys[survey_slug]
    submitted_at = collect(parse_timestamp, raw.get("submitted_at"), "submitted_at", default=now or timezone.now())
    identity = collect(clean_identity, raw.get("respondent"), "respondent")
    answers_raw = raw.get("answers")
    answers: list[ParsedAnswer] = []
    if not isinstance(answers_raw, dict) or not answers_raw:
        errors["answers"] = ["Must be a non-empty object of question key to answer."]
    elif survey is not None:
        seen = set()
        for name, value in answers_raw.items():
            path = f"answers.{name}"
            question = catalog.question(survey, name)
            if question is None:
                errors[path] = [f"Unknown question for survey {survey.slug!r}."]
                continue
            if value is None:
                continue
            if question.pk in seen:
                errors[path] = ["Answered twice."]
                continue
            seen.add(question.pk)
            answer = collect(coerce_answer, question, value, path)
            if answer is not None:
                answers.append(answer)
        for question in catalog.questions.get(survey.pk, {}).values():
            if question.required and question.pk not in seen:
                errors.setdefault(f"answers.{question.key}", ["This question is required."])
    if errors:
        raise ItemError(errors)
    return ParsedResponse(
        external_id=external_id, survey=survey, submitted_at=submitted_at, identity=identity, answers=answers
    )


def _require(mapping, key: str, path: str, kind=dict):
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, kind):
        raise ItemError({path: [f"Missing or not a{'n object' if kind is dict else ' ' + kind.__name__}."]})
    return value


def _identity_from(mapping) -> dict:
    """Pick identity keys out of a tool's hidden fields / person properties."""
    found = {}
    if isinstance(mapping, dict):
        lowered = {str(k).strip().lower().replace(" ", "_"): v for k, v in mapping.items()}
        for key in IDENTITY_KEYS:
            value = lowered.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                found[key] = str(value).strip()
    return found


def _key(value) -> str:
    """A field ID or ref as a string; anything else (lists, objects) is no ID."""
    if isinstance(value, str):
        return value[:MAX_ID]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


# Typeform answer kinds whose value is an object (documented shapes: payment {amount, last4, name,
# success}; calendly {event_uri, invitee_uri}). Questions get a one-line summary; extras keep the
# object, minus the card digits.
TYPEFORM_OBJECT_KINDS = ("payment", "calendly")
TYPEFORM_DROPPED_KEYS = ("last4",)


def _typeform_raw(answer: dict):
    """The answer's value as Typeform sent it, under the key named by its type."""
    kind = answer.get("type")
    if not isinstance(kind, str) or kind in ("field", "type"):
        return None
    value = answer.get(kind)
    if kind in TYPEFORM_OBJECT_KINDS and isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in TYPEFORM_DROPPED_KEYS}
    return value


def _typeform_value(answer: dict):
    """The value offered to a mapped question: labels for choices, yes/no for booleans (yes_no and
    legal fields), the URL for file uploads, a summary for payments and Calendly bookings."""
    kind = answer.get("type")
    if kind == "choice":
        choice = answer.get("choice") if isinstance(answer.get("choice"), dict) else {}
        return choice.get("label") or choice.get("other")
    if kind == "choices":
        choices = answer.get("choices") if isinstance(answer.get("choices"), dict) else {}
        labels = choices.get("labels") if isinstance(choices.get("labels"), list) else []
        if choices.get("other"):
            labels = [*labels, choices["other"]]
        return labels
    raw = _typeform_raw(answer)
    if kind == "boolean":
        return ("yes" if raw else "no") if isinstance(raw, bool) else None
    if isinstance(raw, dict):
        return ", ".join(f"{k}: {v}" for k, v in raw.items() if isinstance(v, (str, int, float, bool))) or None
    return raw


def parse_typeform(payload, *, catalog: Catalog) -> ParsedResponse:
    """Typeform's ``form_response`` webhook: answers map to questions through the field IDs
    (or refs) in ``definition.fields``; ``hidden`` fields and email answers identify the respondent."""
    if not isinstance(payload, dict):
        raise ItemError({"body": ["Expected a JSON object."]})
    if payload.get("event_type") != "form_response":
        raise ItemError({"event_type": [f"Unsupported event type {str(payload.get('event_type'))[:50]!r}."]})
    storable(payload)
    form = _require(payload, "form_response", "form_response")
    survey = catalog.default_survey
    if survey is None:
        raise ItemError({"source": ["This webhook source has no survey configured."]})
    external_id = clean_external_id(form.get("token"), "form_response.token")
    submitted_at = parse_timestamp(form.get("submitted_at"), "form_response.submitted_at")
    definition = form.get("definition") if isinstance(form.get("definition"), dict) else {}
    listed = definition.get("fields") if isinstance(definition.get("fields"), list) else []
    fields = {_key(f.get("id")): f for f in listed if isinstance(f, dict) and _key(f.get("id"))}
    identity = _identity_from(form.get("hidden"))
    answers, extras, seen = [], {}, set()
    for index, answer in enumerate(_require(form, "answers", "form_response.answers", list)):
        if not isinstance(answer, dict) or not isinstance(answer.get("field"), dict):
            raise ItemError({f"form_response.answers[{index}]": ["Each answer needs a field object."]})
        field_id = _key(answer["field"].get("id"))
        definition_field = fields.get(field_id, {})
        ref = _key(answer["field"].get("ref")) or _key(definition_field.get("ref"))
        value = _typeform_value(answer)
        if answer.get("type") == "email" and isinstance(value, str):
            identity.setdefault("email", value)
        question = (catalog.question(survey, field_id) if field_id else None) or (
            catalog.question(survey, ref) if ref else None
        )
        if question is None or value is None or question.pk in seen:
            label = definition_field.get("title") or ref or field_id
            extras[str(label)[:200]] = _typeform_raw(answer) if answer.get("type") not in ("choice", "choices") else value
            continue
        seen.add(question.pk)
        answers.append(coerce_answer(question, value, f"form_response.answers[{index}]"))
    identity = clean_identity(identity, "form_response.hidden")
    return ParsedResponse(
        external_id=external_id, survey=survey, submitted_at=submitted_at, identity=identity,
        answers=answers, extras=extras,
    )


def parse_delighted(payload, *, catalog: Catalog) -> ParsedResponse:
    """Delighted's ``survey_response.updated`` webhook. It fires again when a comment or an
    additional answer is added, with the same response ID and a later ``updated_at``."""
    if not isinstance(payload, dict):
        raise ItemError({"body": ["Expected a JSON object."]})
    if payload.get("event_type") != "survey_response.updated":
        raise ItemError({"event_type": [f"Unsupported event type {str(payload.get('event_type'))[:50]!r}."]})
    storable(payload)
    data = _require(payload, "event_data", "event_data")
    survey = catalog.default_survey
    if survey is None:
        raise ItemError({"source": ["This webhook source has no survey configured."]})
    external_id = clean_external_id(data.get("id"), "event_data.id")
    submitted_at = parse_timestamp(data.get("created_at"), "event_data.created_at")
    updated_at = parse_timestamp(data.get("updated_at"), "event_data.updated_at", default=submitted_at)
    person = data.get("person") if isinstance(data.get("person"), dict) else {}
    identity = _identity_from(data.get("person_properties"))
    if person.get("email"):
        identity.setdefault("email", person["email"])
    identity = clean_identity(identity, "event_data.person")
    answers, extras = [], {}
    if data.get("score") is not None:
        question = catalog.first_of_kind(survey, QuestionKind.NPS, QuestionKind.CSAT, QuestionKind.RATING)
        if question is None:
            extras["score"] = data["score"]
        else:
            answers.append(coerce_answer(question, data["score"], "event_data.score"))
    if data.get("comment"):
        question = catalog.first_of_kind(survey, QuestionKind.FREE_TEXT)
        if question is None:
            extras["comment"] = data["comment"]
        else:
            answers.append(coerce_answer(question, data["comment"], "event_data.comment"))
    if data.get("additional_answers"):
        extras["additional_answers"] = data["additional_answers"]
    if not answers:
        raise ItemError({"event_data.score": ["The response has neither a score nor a comment."]})
    return ParsedResponse(
        external_id=external_id, survey=survey, submitted_at=submitted_at, identity=identity,
        answers=answers, extras=extras, updated_at=updated_at,
    )


# Column mapping targets for exports: a Kiln field, an identity key, or "q:<question key>".
UPLOAD_TARGETS = ("external_id", "submitted_at", "survey") + tuple(f"respondent.{k}" for k in IDENTITY_KEYS)


def validate_column_mapping(mapping) -> dict[str, str]:
    if not isinstance(mapping, dict) or not mapping:
        raise ItemError({"column_mapping": ["Must be a non-empty object of column name to Kiln field."]})
    bad = [
        f"{column!r} -> {target!r}"
        for column, target in mapping.items()
        if not isinstance(target, str) or not (target in UPLOAD_TARGETS or (target.startswith("q:") and len(target) > 2))
    ]
    if bad:
        raise ItemError({"column_mapping": [f"Unknown targets: {', '.join(bad)}. Use {', '.join(UPLOAD_TARGETS)} or q:<question key>."]})
    if "external_id" not in mapping.values():
        raise ItemError({"column_mapping": ["Map one column to external_id (the export's response ID)."]})
    return mapping


def flatten(value, prefix: str = "", depth: int = 0) -> dict:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``, so a mapping can name nested provider fields by dotted
    path; lists and values nested deeper than five levels are kept whole."""
    if not isinstance(value, dict) or depth > 4:
        return {prefix: value} if prefix else {}
    flat = {}
    for key, child in value.items():
        flat.update(flatten(child, f"{prefix}.{key}" if prefix else str(key), depth + 1))
    return flat


def row_to_native(row: dict, mapping: dict[str, str]) -> dict:
    """One export row, through the column mapping, into Kiln's native item shape."""
    item: dict = {"respondent": {}, "answers": {}}
    for column, target in mapping.items():
        value = row.get(column)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, ""):
            continue
        if target.startswith("q:"):
            item["answers"][target[2:]] = value
        elif target.startswith("respondent."):
            item["respondent"][target.split(".", 1)[1]] = value
        else:
            item[target] = value
    return item
