"""Survey tool connectors that call the provider's API (docs/feedback.md has each set-up page).

- Qualtrics: a completed-response event subscription posts to the webhook; the response is then
  fetched from the Responses API (``GET /API/v3/surveys/{surveyId}/responses/{responseId}``).
- SurveyMonkey: a ``response_completed`` webhook; the response is then fetched with its details
  (``GET /v3/surveys/{survey_id}/responses/{id}/details?simple=true``).
- Zigpoll: pulled from ``GET /responses?accountId=…&limit=…&startCursor=…``, page by page, each
  sync starting at the last ``endCursor`` (beat runs it every 15 minutes).

Every provider record becomes Kiln's native item through one mapping: the source's
``column_mapping`` (provider field, dotted for nested ones → Kiln field) on top of the
connector's defaults, and its external question IDs (``question_map``) for answers. Fields that
map to nothing are kept in the response's extras. Each import is recorded as a ``SyncRun``;
a source whose last ``FAILING_RUNS_BEFORE_ALERT`` runs all failed raises an alert by email.
"""

import logging
import os
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from core.outbox import outbox_enqueue, team_address
from feedback.models import FeedbackSource, SourceKind, SyncKind, SyncRun, SyncStatus
from feedback.parsing import Catalog, ItemError, flatten, parse_native_item, row_to_native
from feedback.services import Status, responses_ingest
from integrations.http import ProviderClient, ProviderError

logger = logging.getLogger(__name__)

ZIGPOLL_PAGE_SIZE = 100
# One sync reads at most this many pages; the next scheduled sync continues from the cursor.
ZIGPOLL_MAX_PAGES = 50
FAILING_RUNS_BEFORE_ALERT = 3
MAX_REJECTIONS_KEPT = 100
MAX_EXTRAS = 50


@dataclass
class ProviderRecord:
    """One provider response, flattened: ``fields`` by dotted path, ``answers`` by the provider's question ID."""

    fields: dict
    answers: dict = field(default_factory=dict)


# --- secrets ------------------------------------------------------------------------------------

def source_api_token(source: FeedbackSource) -> str:
    """The stored token, else the environment's FEEDBACK_<SLUG>_API_TOKEN. Never logged."""
    if source.api_token:
        return source.api_token
    return os.environ.get(f"FEEDBACK_{source.slug.upper().replace('-', '_')}_API_TOKEN", "")


def provider_client(source: FeedbackSource) -> ProviderClient:
    token = source_api_token(source)
    if not source.api_base_url or not token:
        raise ProviderError(f"Source {source.slug} needs an API base URL and an API token to fetch responses.")
    headers = {
        SourceKind.QUALTRICS: {"X-API-TOKEN": token},
        SourceKind.SURVEYMONKEY: {"Authorization": f"Bearer {token}"},
        SourceKind.ZIGPOLL: {"Authorization": token},
    }[source.kind]
    return ProviderClient(base_url=source.api_base_url, headers={**headers, "Accept": "application/json"})


# --- mapping -------------------------------------------------------------------------------------

def record_parse(record: ProviderRecord, *, defaults: dict, catalog: Catalog):
    """A ParsedResponse (with unmapped fields in extras), or the ItemError naming what is wrong."""
    mapping = {**defaults, **(catalog.source.column_mapping or {})}
    item = row_to_native(record.fields, mapping)
    extras = {}
    for question_id, value in record.answers.items():
        question = catalog.external.get(question_id)
        if question is not None and value not in (None, "", []):
            item["answers"].setdefault(question.key, value)
        elif value not in (None, "", []):
            extras[question_id] = value
    for path, value in record.fields.items():
        if path not in mapping and isinstance(value, (str, int, float, bool)) and len(extras) < MAX_EXTRAS:
            extras.setdefault(path, value)
    try:
        parsed = parse_native_item(item, catalog=catalog)
    except ItemError as exc:
        if not exc.errors.get("external_id") and item.get("external_id"):
            exc.external_id = str(item["external_id"])
        return exc
    parsed.extras = extras
    return parsed


# --- runs ----------------------------------------------------------------------------------------

def sync_run_start(*, source: FeedbackSource, kind: str) -> SyncRun:
    return SyncRun.objects.create(source=source, kind=kind, cursor_before=source.sync_cursor)


def sync_run_store(*, run: SyncRun, records: list[ProviderRecord], defaults: dict) -> None:
    """Stores the records (idempotent on source and external ID) and adds them to the run's counts."""
    catalog = Catalog(run.source)
    items = [record_parse(record, defaults=defaults, catalog=catalog) for record in records]
    results = responses_ingest(source=run.source, items=items)
    run.fetched += len(records)
    for item, result in zip(items, results, strict=True):
        if result.status == Status.CREATED:
            run.created += 1
        elif result.status in (Status.DUPLICATE, Status.UPDATED):
            run.duplicate += 1
        else:
            run.rejected += 1
            if len(run.rejections) < MAX_REJECTIONS_KEPT:
                external_id = result.external_id or getattr(item, "external_id", None)
                run.rejections.append({"external_id": external_id, "errors": result.errors})
    run.save(update_fields=["fetched", "created", "duplicate", "rejected", "rejections"])


def sync_run_finish(*, run: SyncRun, error: str = "") -> SyncRun:
    run.status = SyncStatus.FAILED if error else SyncStatus.SUCCEEDED
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "cursor_after"])
    if error:
        logger.warning("feedback connector %s: %s run %s failed: %s", run.source.slug, run.kind, run.pk, error)
        failing_source_alert(source=run.source)
    return run


def failing_source_alert(*, source: FeedbackSource) -> bool:
    """One email per failing streak (the failed runs since the last run that did not fail), once
    it is FAILING_RUNS_BEFORE_ALERT long; nothing is dropped silently."""
    runs = SyncRun.objects.filter(source=source)
    last_ok = runs.exclude(status=SyncStatus.FAILED).order_by("-pk").values_list("pk", flat=True).first()
    streak = runs.filter(status=SyncStatus.FAILED, pk__gt=last_ok or 0).order_by("pk")
    failed = list(streak.values_list("pk", "error"))
    if len(failed) < FAILING_RUNS_BEFORE_ALERT:
        return False
    streak_start, last_error = failed[0][0], failed[-1][1]
    _, created = outbox_enqueue(
        dedupe_key=f"feedback.connector_failing:{source.pk}:{streak_start}",
        to=team_address("marketplace_admin"),
        subject=f"Survey connector {source.name} keeps failing",
        body=(
            f"The last {FAILING_RUNS_BEFORE_ALERT} imports from {source.name} ({source.get_kind_display()}) failed.\n"
            f"Last error: {last_error}\n"
            "Nothing was skipped: webhook deliveries are fetched again on the next delivery and pulls resume "
            "from the last cursor. See Feedback → Sync runs in the admin."
        ),
        category="connector_alert",
    )
    return created


# --- Qualtrics ------------------------------------------------------------------------------------

QUALTRICS_DEFAULTS = {"responseId": "external_id", "values.endDate": "submitted_at"}


def qualtrics_record(result: dict) -> ProviderRecord:
    """The Responses API's ``result``: ``values`` holds question answers (QID…) and embedded data."""
    values = result.get("values") if isinstance(result.get("values"), dict) else {}
    answers = {key: value for key, value in values.items() if key.startswith("QID")}
    fields = {"responseId": result.get("responseId"), **flatten(values, "values")}
    return ProviderRecord(fields={k: v for k, v in fields.items() if not k.startswith("values.QID")}, answers=answers)


def qualtrics_fetch(*, client: ProviderClient, survey_id: str, response_id: str) -> ProviderRecord:
    body = client.get_json(f"/API/v3/surveys/{survey_id}/responses/{response_id}")
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, dict):
        raise ProviderError("Qualtrics answered without a result object.")
    return qualtrics_record(result)


# --- SurveyMonkey -----------------------------------------------------------------------------------

SURVEYMONKEY_DEFAULTS = {"id": "external_id", "date_modified": "submitted_at"}


def surveymonkey_answer(answers: list):
    """``simple=true`` adds the choice's text (``simple_text``); open answers carry ``text``."""
    values = [a.get("simple_text") or a.get("text") or a.get("choice_id") for a in answers if isinstance(a, dict)]
    values = [v for v in values if v not in (None, "")]
    return values[0] if len(values) == 1 else values


def surveymonkey_record(details: dict) -> ProviderRecord:
    answers = {}
    for page in details.get("pages") or []:
        for question in (page or {}).get("questions") or []:
            if isinstance(question, dict) and question.get("id"):
                answers[str(question["id"])] = surveymonkey_answer(question.get("answers") or [])
    fields = {key: value for key, value in details.items() if key not in ("pages", "custom_variables", "metadata")}
    fields.update(flatten(details.get("custom_variables") or {}, "custom_variables"))
    return ProviderRecord(fields=fields, answers=answers)


def surveymonkey_fetch(*, client: ProviderClient, survey_id: str, response_id: str) -> ProviderRecord:
    details = client.get_json(f"/v3/surveys/{survey_id}/responses/{response_id}/details", params={"simple": "true"})
    if not isinstance(details, dict):
        raise ProviderError("SurveyMonkey answered without a response object.")
    return surveymonkey_record(details)


# --- webhook-then-fetch ----------------------------------------------------------------------------

FETCHERS = {
    SourceKind.QUALTRICS: (qualtrics_fetch, QUALTRICS_DEFAULTS),
    SourceKind.SURVEYMONKEY: (surveymonkey_fetch, SURVEYMONKEY_DEFAULTS),
}


def webhook_response_fetch(*, source: FeedbackSource, survey_id: str, response_id: str) -> SyncRun:
    """Fetches and stores the response a verified webhook announced, as one recorded run."""
    run = sync_run_start(source=source, kind=SyncKind.WEBHOOK)
    fetch, defaults = FETCHERS[source.kind]
    try:
        with provider_client(source) as client:
            record = fetch(client=client, survey_id=survey_id, response_id=response_id)
        with transaction.atomic():
            sync_run_store(run=run, records=[record], defaults=defaults)
    except ProviderError as exc:
        return sync_run_finish(run=run, error=str(exc))
    return sync_run_finish(run=run)


# --- Zigpoll ----------------------------------------------------------------------------------------

ZIGPOLL_DEFAULTS = {"_id": "external_id", "createdAt": "submitted_at"}


def zigpoll_record(row: dict) -> ProviderRecord:
    """One Zigpoll response answers one slide; the slide ID is the external question ID."""
    fields = flatten({key: value for key, value in row.items() if key != "response"})
    slide = row.get("slideId")
    return ProviderRecord(fields=fields, answers={str(slide): row.get("response")} if slide else {})


def zigpoll_sync(*, source: FeedbackSource, max_pages: int = ZIGPOLL_MAX_PAGES) -> SyncRun:
    """Pulls new responses since the source's cursor, page by page.

    The cursor is saved after each stored page, so a failure part-way resumes where it stopped;
    replayed responses are duplicates (same source and external ID), never second rows.
    """
    run = sync_run_start(source=source, kind=SyncKind.PULL)
    cursor = source.sync_cursor
    try:
        if not source.external_account:
            raise ProviderError(f"Source {source.slug} needs the Zigpoll account ID.")
        with provider_client(source) as client:
            for _ in range(max_pages):
                params = {"accountId": source.external_account, "limit": ZIGPOLL_PAGE_SIZE}
                if cursor:
                    params["startCursor"] = cursor
                page = client.get_json("/responses", params=params)
                rows = page.get("data") if isinstance(page, dict) else None
                if not isinstance(rows, list):
                    raise ProviderError("Zigpoll answered without a data list.")
                with transaction.atomic():
                    sync_run_store(run=run, records=[zigpoll_record(r) for r in rows if isinstance(r, dict)],
                                   defaults=ZIGPOLL_DEFAULTS)
                    not_objects = sum(1 for r in rows if not isinstance(r, dict))
                    run.fetched += not_objects
                    run.rejected += not_objects
                    cursor = page.get("endCursor") or cursor
                    FeedbackSource.objects.filter(pk=source.pk).update(sync_cursor=cursor or "")
                    run.cursor_after = cursor or ""
                    run.save(update_fields=["fetched", "rejected", "cursor_after"])
                if not page.get("hasNextPage"):
                    break
    except ProviderError as exc:
        source.sync_cursor = cursor or ""
        return sync_run_finish(run=run, error=str(exc))
    source.sync_cursor = cursor or ""
    return sync_run_finish(run=run)


PULLERS = {SourceKind.ZIGPOLL: zigpoll_sync}


def pull_sources_sync() -> dict[str, str]:
    """Every active pull source, one run each; the beat schedule calls this."""
    outcome = {}
    for source in FeedbackSource.objects.filter(kind__in=list(PULLERS), is_active=True):
        outcome[source.slug] = PULLERS[source.kind](source=source).status
    return outcome
