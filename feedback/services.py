"""Writes for feedback: storing responses exactly once, matching, coding, follow-ups."""

import json
import re
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from buyers.models import Buyer
from core.bulk import copy_rows
from feedback.models import (
    Answer,
    CodingOrigin,
    FeedbackSource,
    MatchStatus,
    Moment,
    RespondentKind,
    Response,
    ResponseTheme,
    Theme,
)
from feedback.parsing import ItemError, ParsedResponse
from feedback.sentiment import sentiment_score
from integrations.bulk import ItemResult
from marketplace.models import Order
from sellers.models import Seller

BULK_LIMIT = 1000
# Flag thresholds (see docs/feedback.md): NPS detractors are 0-6 by the NPS definition.
DETRACTOR_MAX = 6
CSAT_FLAG_MAX = 2
NEGATIVE_SENTIMENT = -0.5

SELLER_MOMENTS = (Moment.POST_ONBOARDING, Moment.QUARTERLY_ARTISAN)


class Status:
    CREATED = "created"
    DUPLICATE = "duplicate"
    UPDATED = "updated"
    REJECTED = "rejected"


def _result(index: int, status: str, external_id: str | None = None, pk: int | None = None,
            match_status: str | None = None, errors: dict | None = None) -> ItemResult:
    """The shared bulk result, with the respondent match status survey responses add."""
    return ItemResult(
        status=status, id=pk, errors=errors or {}, code="invalid" if status == Status.REJECTED else None,
        external_id=external_id, index=index, match_status=match_status,
    )


# --- identity -----------------------------------------------------------------


@dataclass
class Identity:
    respondent_kind: str = RespondentKind.UNKNOWN
    buyer_id: int | None = None
    seller_id: int | None = None
    order_id: int | None = None

    @property
    def matched(self) -> bool:
        return self.buyer_id is not None or self.seller_id is not None


def _unique_by(rows) -> dict:
    """key -> pk, dropping keys that more than one row share (an ambiguous email matches nobody)."""
    found: dict = {}
    for key, pk in rows:
        found[key] = None if key in found else pk
    return {k: v for k, v in found.items() if v is not None}


def identities_resolve(*, identities: list[tuple[dict, str]]) -> list[Identity]:
    """Resolve (identity keys, survey moment) pairs to buyers/sellers with four set-based queries.

    Keys are the storefront's external IDs (Buyer/Seller/Order.external_id) and emails.
    An order identifies both its buyer (the respondent) and its artisan (who the feedback is about).
    """
    wanted = {"order_id": set(), "buyer": set(), "seller": set(), "email": set()}
    for keys, moment in identities:
        if "order_id" in keys:
            wanted["order_id"].add(keys["order_id"])
        if "buyer_id" in keys:
            wanted["buyer"].add(keys["buyer_id"])
        if "seller_id" in keys:
            wanted["seller"].add(keys["seller_id"])
        if "external_id" in keys:
            wanted["seller" if moment in SELLER_MOMENTS else "buyer"].add(keys["external_id"])
            if moment == Moment.AD_HOC:
                wanted["seller"].add(keys["external_id"])
        if "email" in keys:
            wanted["email"].add(keys["email"])
    orders = {}
    if wanted["order_id"]:
        orders = {
            ext: (pk, buyer_id, seller_id)
            for ext, pk, buyer_id, seller_id in Order.objects.filter(external_id__in=wanted["order_id"]).values_list(
                "external_id", "pk", "buyer_id", "seller_id"
            )
        }
    buyers = dict(Buyer.objects.filter(external_id__in=wanted["buyer"]).values_list("external_id", "pk")) if wanted["buyer"] else {}
    sellers = dict(Seller.objects.filter(external_id__in=wanted["seller"]).values_list("external_id", "pk")) if wanted["seller"] else {}
    buyer_emails = seller_emails = {}
    if wanted["email"]:
        buyer_emails = _unique_by(
            Buyer.objects.annotate(e=Lower("email")).filter(e__in=wanted["email"]).values_list("e", "pk")
        )
        seller_emails = _unique_by(
            Seller.objects.annotate(e=Lower("email")).filter(e__in=wanted["email"]).values_list("e", "pk")
        )

    resolved = []
    for keys, moment in identities:
        ident = Identity()
        seller_audience = moment in SELLER_MOMENTS
        if "order_id" in keys and keys["order_id"] in orders:
            ident.order_id, ident.buyer_id, ident.seller_id = orders[keys["order_id"]]
        if ident.buyer_id is None and "buyer_id" in keys:
            ident.buyer_id = buyers.get(keys["buyer_id"])
        if ident.seller_id is None and "seller_id" in keys:
            ident.seller_id = sellers.get(keys["seller_id"])
        if ident.buyer_id is None and ident.seller_id is None and "external_id" in keys:
            if seller_audience:
                ident.seller_id = sellers.get(keys["external_id"])
            else:
                ident.buyer_id = buyers.get(keys["external_id"])
                if ident.buyer_id is None and moment == Moment.AD_HOC:
                    ident.seller_id = sellers.get(keys["external_id"])
        if ident.buyer_id is None and "email" in keys and not (seller_audience and ident.seller_id):
            if seller_audience:
                ident.seller_id = ident.seller_id or seller_emails.get(keys["email"])
            else:
                ident.buyer_id = buyer_emails.get(keys["email"])
                if ident.buyer_id is None and ident.seller_id is None and moment == Moment.AD_HOC:
                    ident.seller_id = seller_emails.get(keys["email"])
        if ident.buyer_id is not None:
            ident.respondent_kind = RespondentKind.BUYER
        elif ident.seller_id is not None:
            ident.respondent_kind = RespondentKind.SELLER
        resolved.append(ident)
    return resolved


# --- themes -------------------------------------------------------------------


def _keyword_pattern(keyword: str) -> re.Pattern:
    return re.compile(r"(?<![a-z])" + re.escape(keyword) + r"(?![a-z])")


class ThemeRules:
    """Active themes and their keyword patterns, compiled once per request or task."""

    def __init__(self, themes=None):
        themes = list(themes if themes is not None else Theme.objects.filter(is_active=True))
        self.themes = {t.pk: t for t in themes}
        self.patterns = [(t.pk, [_keyword_pattern(k) for k in t.keyword_list]) for t in themes]

    def match(self, text: str) -> list[int]:
        if not text:
            return []
        lowered = text.lower()
        return [pk for pk, patterns in self.patterns if any(p.search(lowered) for p in patterns)]

    def any_urgent(self, theme_ids) -> bool:
        return any(self.themes[pk].is_urgent for pk in theme_ids if pk in self.themes)


def _is_flagged(*, nps, csat, sentiment: float, urgent: bool) -> bool:
    return (
        (nps is not None and nps <= DETRACTOR_MAX)
        or (csat is not None and csat <= CSAT_FLAG_MAX)
        or sentiment <= NEGATIVE_SENTIMENT
        or urgent
    )


# --- storing responses --------------------------------------------------------


RESPONSE_COLUMNS = (
    "source_id", "external_id", "survey_id", "respondent_kind", "buyer_id", "seller_id", "order_id", "identity",
    "match_status", "nps", "csat", "text", "extras", "sentiment", "is_flagged", "submitted_at", "received_at",
    "updated_at", "revision", "coded_at",
)


def _row(source: FeedbackSource, parsed: ParsedResponse, ident: Identity, rules: ThemeRules, now: datetime):
    """Column values for one new response, and the keyword themes its text matches."""
    text = parsed.text
    nps, csat = parsed.nps, parsed.csat
    sentiment = sentiment_score(text=text, nps=nps, csat=csat)
    theme_ids = rules.match(text)
    row = {
        "source_id": source.pk,
        "external_id": parsed.external_id,
        "survey_id": parsed.survey.pk,
        "respondent_kind": ident.respondent_kind,
        "buyer_id": ident.buyer_id,
        "seller_id": ident.seller_id,
        "order_id": ident.order_id,
        "identity": parsed.identity,
        "match_status": MatchStatus.MATCHED if ident.matched else MatchStatus.UNMATCHED,
        "nps": nps,
        "csat": csat,
        "text": text,
        "extras": parsed.extras,
        "sentiment": sentiment,
        "is_flagged": _is_flagged(nps=nps, csat=csat, sentiment=sentiment, urgent=rules.any_urgent(theme_ids)),
        "submitted_at": parsed.submitted_at,
        "received_at": now,
        "updated_at": parsed.updated_at or now,
        "revision": 1,
        "coded_at": now if theme_ids else None,
    }
    return row, theme_ids


def _insert(source, batch, rules: ThemeRules, now) -> list[tuple[int, str]]:
    """Insert new responses with their answers and rule themes; returns (id, match_status) per item.

    The caller holds a transaction. On PostgreSQL the rows go in with COPY under IDs drawn
    from the sequence first (so answers can point at them); elsewhere with bulk_create.
    """
    built = [_row(source, parsed, ident, rules, now) for parsed, ident in batch]
    if connection.vendor == "postgresql":
        return _insert_copy(batch, built, now)
    responses = Response.objects.bulk_create([Response(**row) for row, _ in built])
    answers, codes = [], []
    for (parsed, _), response, (_, theme_ids) in zip(batch, responses, built, strict=True):
        answers.extend(
            Answer(response=response, question=a.question, number=a.number, text=a.text, choices=a.choices)
            for a in parsed.answers
        )
        codes.extend(
            ResponseTheme(response=response, theme_id=pk, origin=CodingOrigin.RULE, created_at=now) for pk in theme_ids
        )
    Answer.objects.bulk_create(answers)
    if codes:
        ResponseTheme.objects.bulk_create(codes)
    return [(r.pk, r.match_status) for r in responses]


def _insert_copy(batch, built, now) -> list[tuple[int, str]]:
    table = Response._meta.db_table
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [len(built)]
        )
        ids = [row[0] for row in cursor.fetchall()]
        copy_rows(
            cursor, table=table, columns=["id", *RESPONSE_COLUMNS],
            rows=(
                (pk, *(json.dumps(row[c]) if c in ("identity", "extras") else row[c] for c in RESPONSE_COLUMNS))
                for pk, (row, _) in zip(ids, built, strict=True)
            ),
        )
        copy_rows(
            cursor, table=Answer._meta.db_table, columns=["response_id", "question_id", "number", "text", "choices"],
            rows=(
                (pk, a.question.pk, a.number, a.text, json.dumps(a.choices))
                for pk, (parsed, _) in zip(ids, batch, strict=True)
                for a in parsed.answers
            ),
        )
        codes = [(pk, theme_id) for pk, (_, theme_ids) in zip(ids, built, strict=True) for theme_id in theme_ids]
        if codes:
            copy_rows(
                cursor, table=ResponseTheme._meta.db_table,
                columns=["response_id", "theme_id", "origin", "confidence", "created_at"],
                rows=((pk, theme_id, CodingOrigin.RULE, 1.0, now) for pk, theme_id in codes),
            )
    return [(pk, row["match_status"]) for pk, (row, _) in zip(ids, built, strict=True)]


def _update(source, parsed: ParsedResponse, ident: Identity, rules: ThemeRules, now) -> ItemResult | None:
    """Apply a tool's later version of a response; None when the stored one is as new or newer."""
    with transaction.atomic():
        # Locks the row so two deliveries of different versions cannot interleave their answers
        # (the older one would otherwise overwrite the newer one's).
        current = Response.objects.select_for_update().get(source=source, external_id=parsed.external_id)
        if parsed.updated_at is None or parsed.updated_at <= current.updated_at:
            return None
        fresh, theme_ids = _row(source, parsed, ident, rules, now)
        keep_match = current.match_status == MatchStatus.MATCHED and current.matched_by_id is not None
        for name in ("nps", "csat", "text", "extras", "sentiment", "is_flagged", "identity", "updated_at"):
            setattr(current, name, fresh[name])
        if not keep_match:
            for name in ("respondent_kind", "buyer_id", "seller_id", "order_id", "match_status"):
                setattr(current, name, fresh[name])
        current.revision += 1
        current.save()
        current.answers.all().delete()
        Answer.objects.bulk_create(
            Answer(response=current, question=a.question, number=a.number, text=a.text, choices=a.choices)
            for a in parsed.answers
        )
        current.theme_codes.filter(origin=CodingOrigin.RULE).delete()
        ResponseTheme.objects.bulk_create(
            [ResponseTheme(response=current, theme_id=pk, origin=CodingOrigin.RULE) for pk in theme_ids],
            ignore_conflicts=True,
        )
    return _result(0, Status.UPDATED, parsed.external_id, current.pk, current.match_status)


def responses_ingest(*, source: FeedbackSource, items: list) -> list[ItemResult]:
    """Store each valid parsed response once; report created, duplicate, updated or rejected per item.

    ``items`` holds ParsedResponse or ItemError values, in request order. Mixed batches keep
    their good items (see docs/feedback.md). Each item is atomic: its response, answers and
    theme codes are written together or not at all. The common case is one bulk insert; if a
    concurrent request stored one of the same responses first, the batch is retried item by item
    in savepoints and the loser of each race reports "duplicate" with the winner's ID.
    """
    now = timezone.now()
    results: list[ItemResult | None] = [None] * len(items)
    first_seen: dict[str, int] = {}
    fresh: list[tuple[int, ParsedResponse]] = []
    for index, item in enumerate(items):
        if isinstance(item, ItemError):
            results[index] = _result(index, Status.REJECTED, errors=item.errors)
        elif item.external_id in first_seen:
            results[index] = _result(index, Status.DUPLICATE, item.external_id)  # filled in below
        else:
            first_seen[item.external_id] = index
            fresh.append((index, item))

    existing = dict(
        Response.objects.filter(source=source, external_id__in=[p.external_id for _, p in fresh]).values_list(
            "external_id", "pk"
        )
    )
    idents = identities_resolve(identities=[(p.identity, p.survey.moment) for _, p in fresh])
    rules = ThemeRules()
    new, updates = [], []
    for (index, parsed), ident in zip(fresh, idents, strict=True):
        if parsed.external_id in existing:
            if parsed.updated_at is not None:
                updates.append((index, parsed, ident))
            else:
                results[index] = _result(index, Status.DUPLICATE, parsed.external_id, existing[parsed.external_id])
        else:
            new.append((index, parsed, ident))

    created: list[tuple[int, str]] = []
    try:
        if new:
            with transaction.atomic():
                created = _insert(source, [(p, i) for _, p, i in new], rules, now)
        for (index, parsed, _), (pk, match_status) in zip(new, created, strict=True):
            results[index] = _result(index, Status.CREATED, parsed.external_id, pk, match_status)
    except (IntegrityError, DataError):
        created = []
        for index, parsed, ident in new:
            try:
                with transaction.atomic():
                    ((pk, match_status),) = _insert(source, [(parsed, ident)], rules, now)
                created.append((pk, match_status))
                results[index] = _result(index, Status.CREATED, parsed.external_id, pk, match_status)
            except (IntegrityError, DataError):
                winner = Response.objects.filter(source=source, external_id=parsed.external_id).first()
                if winner is None:
                    results[index] = _result(
                        index, Status.REJECTED, parsed.external_id, errors={"item": ["Violates a database constraint."]}
                    )
                elif parsed.updated_at is not None:
                    updates.append((index, parsed, ident))
                else:
                    results[index] = _result(index, Status.DUPLICATE, parsed.external_id, winner.pk)

    touched = [pk for pk, _ in created]
    for index, parsed, ident in updates:
        outcome = _update(source, parsed, ident, rules, now)
        if outcome is None:
            pk = Response.objects.filter(source=source, external_id=parsed.external_id).values_list("pk", flat=True).first()
            results[index] = _result(index, Status.DUPLICATE, parsed.external_id, pk)
        else:
            outcome.index = index
            results[index] = outcome
            touched.append(outcome.id)

    for index, result in enumerate(results):
        if result.status == Status.DUPLICATE and result.id is None:
            original = results[first_seen[result.external_id]]
            result.id = original.id
    if touched:
        from feedback.tasks import process_responses_task

        transaction.on_commit(lambda: process_responses_task.delay(touched))
    return results


# --- matching -----------------------------------------------------------------


@transaction.atomic
def response_match(*, response: Response, buyer: Buyer | None = None, seller: Seller | None = None, actor=None) -> Response:
    """Staff link an unmatched response to the buyer or artisan who wrote it."""
    if buyer is None and seller is None:
        raise ValidationError("Choose a buyer or a seller to match the response to.")
    # Locks the row so a tool's update and a staff match cannot overwrite each other.
    response = Response.objects.select_for_update().get(pk=response.pk)
    response.buyer = buyer
    response.seller = seller if seller is not None else response.seller
    response.respondent_kind = RespondentKind.BUYER if buyer is not None else RespondentKind.SELLER
    response.match_status = MatchStatus.MATCHED
    response.matched_by = actor
    response.save(update_fields=["buyer", "seller", "respondent_kind", "match_status", "matched_by"])
    from feedback.tasks import process_responses_task

    transaction.on_commit(lambda: process_responses_task.delay([response.pk]))
    return response


def responses_rematch(*, response_ids: list[int]) -> int:
    """Try the stored identity keys again (e.g. after the buyer record arrived); returns how many matched."""
    responses = list(
        Response.objects.unmatched().filter(pk__in=response_ids).select_related("survey")
    )
    idents = identities_resolve(identities=[(r.identity, r.survey.moment) for r in responses])
    matched = []
    for response, ident in zip(responses, idents, strict=True):
        if ident.matched:
            response.buyer_id, response.seller_id, response.order_id = ident.buyer_id, ident.seller_id, ident.order_id
            response.respondent_kind = ident.respondent_kind
            response.match_status = MatchStatus.MATCHED
            matched.append(response)
    with transaction.atomic():
        Response.objects.bulk_update(matched, ["buyer", "seller", "order", "respondent_kind", "match_status"])
        if matched:
            from feedback.tasks import process_responses_task

            ids = [r.pk for r in matched]
            transaction.on_commit(lambda: process_responses_task.delay(ids))
    return len(matched)
