"""Bulk upload of a survey tool's export (CSV or JSON, e.g. Zigpoll) through a column mapping."""

import csv
import io
import json
from collections import Counter

from django.utils import timezone

from feedback.models import FeedbackSource, MatchStatus, Response, SyncKind, SyncRun, SyncStatus
from feedback.parsing import Catalog, ItemError, flatten, parse_native_item, row_to_native, validate_column_mapping
from feedback.services import BULK_LIMIT, identities_resolve, responses_ingest

MAX_UPLOAD_ROWS = 10_000


def upload_rows_parse(*, content: str, fmt: str) -> list[dict]:
    """The rows of an export; ItemError naming ``content`` when the file cannot be read."""
    if fmt == "json":
        try:
            data = json.loads(content)
        except (ValueError, RecursionError) as exc:
            raise ItemError({"content": [f"Not valid JSON: {exc}"]}) from None
        if isinstance(data, dict):
            data = data.get("responses") or data.get("items") or data.get("data")
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise ItemError({"content": ["Expected a JSON list of objects (one per response)."]})
        rows = data
    elif fmt == "csv":
        try:
            rows = list(csv.DictReader(io.StringIO(content)))
        except csv.Error as exc:
            raise ItemError({"content": [f"Not valid CSV: {exc}"]}) from None
    else:
        raise ItemError({"format": ["Must be csv or json."]})
    if not rows:
        raise ItemError({"content": ["The export has no rows."]})
    if len(rows) > MAX_UPLOAD_ROWS:
        raise ItemError({"content": [f"At most {MAX_UPLOAD_ROWS} rows per upload; got {len(rows)}."]})
    return rows


def _parse(source: FeedbackSource, rows: list[dict], mapping: dict) -> list:
    catalog = Catalog(source)
    items = []
    for row in rows:
        try:
            items.append(parse_native_item(row_to_native(flatten(row), mapping), catalog=catalog))
        except ItemError as exc:
            items.append(exc)
    return items


def upload_preview(*, source: FeedbackSource, rows: list[dict], column_mapping: dict | None = None) -> dict:
    """Dry run: what an upload would do, row by row, without writing anything."""
    mapping = validate_column_mapping(column_mapping or source.column_mapping)
    items = _parse(source, rows, mapping)
    valid = [item for item in items if not isinstance(item, ItemError)]
    existing = set(
        Response.objects.filter(source=source, external_id__in=[p.external_id for p in valid]).values_list(
            "external_id", flat=True
        )
    )
    idents = iter(identities_resolve(identities=[(p.identity, p.survey.moment) for p in valid]))
    results, seen = [], set()
    for index, item in enumerate(items):
        if isinstance(item, ItemError):
            results.append({"index": index, "status": "rejected", "errors": item.errors})
            continue
        ident = next(idents)
        if item.external_id in existing or item.external_id in seen:
            status = "duplicate"
        else:
            status = "would_create"
        seen.add(item.external_id)
        results.append({
            "index": index,
            "status": status,
            "external_id": item.external_id,
            "match_status": MatchStatus.MATCHED if ident.matched else MatchStatus.UNMATCHED,
            "nps": item.nps,
            "csat": item.csat,
        })
    return {"dry_run": True, "summary": dict(Counter(r["status"] for r in results)), "results": results}


def upload_ingest(
    *, source: FeedbackSource, rows: list[dict], column_mapping: dict | None = None, save_mapping: bool = False
) -> dict:
    """Store an export's rows (same per-row policy as the bulk API), in chunks of BULK_LIMIT, as one
    recorded run. ``save_mapping`` keeps the given mapping on the source for the next export
    (Medallia and Hotjar exports are re-imported with the same columns)."""
    mapping = validate_column_mapping(column_mapping or source.column_mapping)
    if save_mapping and column_mapping:
        source.column_mapping = mapping
        source.save(update_fields=["column_mapping"])
    items = _parse(source, rows, mapping)
    results = []
    for start in range(0, len(items), BULK_LIMIT):
        chunk = responses_ingest(source=source, items=items[start : start + BULK_LIMIT])
        for result in chunk:
            result.index += start
            results.append(result.as_dict())
    summary = Counter(r["status"] for r in results)
    run = SyncRun.objects.create(
        source=source, kind=SyncKind.UPLOAD, status=SyncStatus.SUCCEEDED, finished_at=timezone.now(),
        fetched=len(rows), created=summary["created"], duplicate=summary["duplicate"] + summary["updated"],
        rejected=summary["rejected"],
        rejections=[{"row": r["index"], "errors": r["errors"]} for r in results if r["status"] == "rejected"][:100],
    )
    return {"dry_run": False, "summary": dict(summary), "results": results, "run": run.pk}
