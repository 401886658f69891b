"""Reads over feedback: signals for the seller score and for retention, NPS/CSAT reports."""

from datetime import datetime, timedelta

import pandas as pd
from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import Trunc

from feedback.models import RespondentKind, Response

# Feedback older than this no longer speaks for an artisan or a buyer.
SIGNAL_WINDOW = timedelta(days=365)
# buyer_trust is a mean sentiment on -1..1; an artisan nobody has written about is neutral.
NEUTRAL_TRUST = 0.0
NEUTRAL_SENTIMENT = 0.0


def seller_feedback_signals(*, as_of: datetime, seller_ids=None, window: timedelta = SIGNAL_WINDOW) -> pd.DataFrame:
    """Per artisan: how many flagged feedback points, and buyers' mean sentiment about them.

    Indexed by seller_id. Columns:
      - flagged_feedback_count (int): responses about the artisan (from buyers or the artisan
        themselves) that are flagged: NPS detractor, CSAT <= 2, strongly negative, or an urgent theme.
      - buyer_trust (float, -1..1): mean sentiment of buyers' responses about the artisan;
        NEUTRAL_TRUST (0.0) when no buyer has given feedback.
    Sellers asked for in ``seller_ids`` without feedback get 0 and NEUTRAL_TRUST.
    Only responses submitted in (as_of - window, as_of] count, so the frame is reproducible for a past date.
    """
    responses = Response.objects.filter(
        seller__isnull=False, submitted_at__lte=as_of, submitted_at__gt=as_of - window
    )
    if seller_ids is not None:
        responses = responses.filter(seller_id__in=list(seller_ids))
    rows = responses.values("seller_id").annotate(
        flagged_feedback_count=Count("pk", filter=Q(is_flagged=True)),
        buyer_trust=Avg("sentiment", filter=Q(respondent_kind=RespondentKind.BUYER)),
    )
    frame = pd.DataFrame.from_records(
        list(rows), columns=["seller_id", "flagged_feedback_count", "buyer_trust"]
    ).set_index("seller_id")
    if seller_ids is not None:
        frame = frame.reindex(pd.Index(sorted(set(seller_ids)), name="seller_id"))
    frame["flagged_feedback_count"] = pd.to_numeric(frame["flagged_feedback_count"]).fillna(0).astype("int64")
    frame["buyer_trust"] = frame["buyer_trust"].astype("float64").fillna(NEUTRAL_TRUST)
    return frame


def buyer_feedback_sentiment(
    *, as_of: datetime, buyer_ids=None, id_range: tuple[int, int] | None = None, window: timedelta = SIGNAL_WINDOW
) -> pd.DataFrame:
    """Per buyer: mean sentiment (-1..1) of the buyer's own responses and how many there were.

    Indexed by buyer_id, columns ``feedback_sentiment`` (float; NEUTRAL_SENTIMENT 0.0 when the
    buyer gave no feedback) and ``feedback_count`` (int). ``id_range`` (low, high) bounds the
    buyer ids read, low <= id < high; ``buyer_ids`` are the rows wanted. A recompute chunk passes
    both: the query is bounded by two values instead of carrying thousands of ids.
    """
    responses = Response.objects.filter(
        buyer__isnull=False, submitted_at__lte=as_of, submitted_at__gt=as_of - window
    )
    if id_range is not None:
        responses = responses.filter(buyer_id__gte=id_range[0], buyer_id__lt=id_range[1])
    elif buyer_ids is not None:
        responses = responses.filter(buyer_id__in=list(buyer_ids))
    rows = responses.values("buyer_id").annotate(feedback_sentiment=Avg("sentiment"), feedback_count=Count("pk"))
    frame = pd.DataFrame.from_records(
        list(rows), columns=["buyer_id", "feedback_sentiment", "feedback_count"]
    ).set_index("buyer_id")
    if buyer_ids is not None:
        frame = frame.reindex(pd.Index(sorted(set(buyer_ids)), name="buyer_id"))
    frame["feedback_sentiment"] = frame["feedback_sentiment"].astype("float64").fillna(NEUTRAL_SENTIMENT)
    frame["feedback_count"] = pd.to_numeric(frame["feedback_count"]).fillna(0).astype("int64")
    return frame


REPORT_GROUPS = ("survey", "category", "seller", "segment", "period")
_GROUP_FIELDS = {"survey": "survey__slug", "category": "seller__craft_category", "seller": "seller__external_id"}


def _score_row(group, row: dict) -> dict:
    nps_n, csat_n = int(row["nps_responses"]), int(row["csat_responses"])
    return {
        "group": group,
        "responses": int(row["responses"]),
        "nps_responses": nps_n,
        "promoters": int(row["promoters"]),
        "passives": nps_n - int(row["promoters"]) - int(row["detractors"]),
        "detractors": int(row["detractors"]),
        # NPS = % promoters (9-10) minus % detractors (0-6), on -100..100.
        "nps": round(100.0 * (row["promoters"] - row["detractors"]) / nps_n, 1) if nps_n else None,
        "csat_responses": csat_n,
        # CSAT = % of 1-5 answers that are 4 or 5; csat_mean is the plain average.
        "csat": round(100.0 * row["csat_satisfied"] / csat_n, 1) if csat_n else None,
        "csat_mean": round(float(row["csat_sum"]) / csat_n, 2) if csat_n else None,
    }


def nps_report(
    *, group_by: str = "survey", start: datetime | None = None, end: datetime | None = None,
    period: str = "month", survey: str | None = None,
) -> list[dict]:
    """NPS and CSAT with response counts per group; one aggregate query (plus segment lookup)."""
    if group_by not in REPORT_GROUPS:
        raise ValueError(f"group_by must be one of {REPORT_GROUPS}")
    responses = Response.objects.all()
    if start is not None:
        responses = responses.filter(submitted_at__gte=start)
    if end is not None:
        responses = responses.filter(submitted_at__lt=end)
    if survey:
        responses = responses.filter(survey__slug=survey)
    aggregates = {
        "responses": Count("pk"),
        "nps_responses": Count("nps"),
        "promoters": Count("pk", filter=Q(nps__gte=9)),
        "detractors": Count("pk", filter=Q(nps__lte=6)),
        "csat_responses": Count("csat"),
        "csat_satisfied": Count("pk", filter=Q(csat__gte=4)),
        "csat_sum": Sum("csat", default=0),
    }
    if group_by == "period":
        rows = responses.annotate(g=Trunc("submitted_at", period)).values("g").annotate(**aggregates).order_by("g")
        return [_score_row(row["g"].isoformat(), row) for row in rows]
    if group_by == "segment":
        from buyers.selectors import buyer_segments

        per_buyer = list(responses.filter(buyer__isnull=False).values("buyer_id").annotate(**aggregates))
        if not per_buyer:
            return []
        frame = pd.DataFrame.from_records(per_buyer)
        segments = buyer_segments(buyer_ids=frame["buyer_id"].tolist())
        frame["g"] = frame["buyer_id"].map(segments)
        summed = frame.drop(columns=["buyer_id"]).groupby("g").sum()
        return [_score_row(group, row) for group, row in summed.to_dict("index").items()]
    rows = responses.values(g=F(_GROUP_FIELDS[group_by])).annotate(**aggregates).order_by("g")
    return [_score_row(row["g"], row) for row in rows]


def unmatched_responses():
    return Response.objects.unmatched().select_related("source", "survey").order_by("-received_at")


def theme_summary(*, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """Per theme: coded responses, their mean sentiment and how many are flagged (for dashboards).

    A response counts once per theme whatever coded it (rule, classifier or staff).
    """
    from feedback.models import ResponseTheme

    codes = ResponseTheme.objects.filter(theme__is_active=True)
    if start is not None:
        codes = codes.filter(response__submitted_at__gte=start)
    if end is not None:
        codes = codes.filter(response__submitted_at__lt=end)
    rows = (
        codes.values("theme__slug", "theme__name", "theme__is_urgent")
        .annotate(
            responses=Count("response_id", distinct=True),
            mean_sentiment=Avg("response__sentiment"),
            flagged=Count("response_id", filter=Q(response__is_flagged=True), distinct=True),
        )
        .order_by("-responses", "theme__slug")
    )
    return [
        {
            "theme": row["theme__slug"],
            "name": row["theme__name"],
            "is_urgent": row["theme__is_urgent"],
            "responses": row["responses"],
            "flagged": row["flagged"],
            "mean_sentiment": round(row["mean_sentiment"], 3) if row["mean_sentiment"] is not None else None,
        }
        for row in rows
    ]
