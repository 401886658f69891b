"""Reads over feedback: signals for the seller score and for retention, NPS/CSAT reports."""

from datetime import datetime, timedelta

import pandas as pd
from django.db.models import Avg, Count, Q

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
    frame["flagged_feedback_count"] = frame["flagged_feedback_count"].fillna(0).astype("int64")
    frame["buyer_trust"] = frame["buyer_trust"].astype("float64").fillna(NEUTRAL_TRUST)
    return frame


def buyer_feedback_sentiment(*, as_of: datetime, buyer_ids=None, window: timedelta = SIGNAL_WINDOW) -> pd.DataFrame:
    """Per buyer: mean sentiment (-1..1) of the buyer's own responses and how many there were.

    Indexed by buyer_id, columns ``feedback_sentiment`` (float; NEUTRAL_SENTIMENT 0.0 when the
    buyer gave no feedback) and ``feedback_count`` (int).
    """
    responses = Response.objects.filter(
        buyer__isnull=False, submitted_at__lte=as_of, submitted_at__gt=as_of - window
    )
    if buyer_ids is not None:
        responses = responses.filter(buyer_id__in=list(buyer_ids))
    rows = responses.values("buyer_id").annotate(feedback_sentiment=Avg("sentiment"), feedback_count=Count("pk"))
    frame = pd.DataFrame.from_records(
        list(rows), columns=["buyer_id", "feedback_sentiment", "feedback_count"]
    ).set_index("buyer_id")
    if buyer_ids is not None:
        frame = frame.reindex(pd.Index(sorted(set(buyer_ids)), name="buyer_id"))
    frame["feedback_sentiment"] = frame["feedback_sentiment"].astype("float64").fillna(NEUTRAL_SENTIMENT)
    frame["feedback_count"] = frame["feedback_count"].fillna(0).astype("int64")
    return frame
