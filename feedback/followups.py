"""Detractors and urgent themes become customer-success follow-up cases."""

from django.db.models import Exists, OuterRef, Q

from casework.models import CaseKind
from casework.services import case_open
from feedback.models import MatchStatus, Response, ResponseTheme
from feedback.services import DETRACTOR_MAX
from feedback.themes import responses_classify


def responses_follow_up(*, response_ids: list[int]) -> int:
    """Open one detractor_followup case per subject for detractors (NPS 0-6) and urgent themes.

    Idempotent: case_open keeps one active case per kind and subject, so a replayed task or a
    second detractor response from the same buyer adds nothing. Unmatched responses wait until
    staff match them (matching calls this again). Returns how many cases were opened.
    """
    urgent = ResponseTheme.objects.filter(response=OuterRef("pk"), theme__is_urgent=True)
    candidates = (
        Response.objects.filter(pk__in=response_ids, match_status=MatchStatus.MATCHED)
        .annotate(has_urgent=Exists(urgent))
        .filter(Q(nps__lte=DETRACTOR_MAX) | Q(has_urgent=True))
        .select_related("buyer", "seller", "survey")
        .prefetch_related("theme_codes__theme")
    )
    opened = 0
    for response in candidates:
        urgent_themes = [code.theme.name for code in response.theme_codes.all() if code.theme.is_urgent]
        if response.nps is not None and response.nps <= DETRACTOR_MAX:
            reason = f"Detractor: NPS {response.nps} on {response.survey.name}"
        else:
            reason = f"Urgent feedback theme ({', '.join(urgent_themes)}) on {response.survey.name}"
        subject = {"buyer": response.buyer} if response.buyer_id else {"seller": response.seller}
        _, created = case_open(
            kind=CaseKind.DETRACTOR_FOLLOWUP,
            reason=reason,
            evidence={
                "response_id": response.pk,
                "source": response.source_id,
                "external_id": response.external_id,
                "nps": response.nps,
                "csat": response.csat,
                "urgent_themes": urgent_themes,
                "about_seller_id": response.seller_id,
                "excerpt": response.text[:500],
            },
            **subject,
        )
        opened += created
    return opened


def responses_process(*, response_ids: list[int]) -> dict:
    """After responses are stored or updated: classifier themes, then follow-up cases."""
    coded = responses_classify(response_ids=response_ids)
    if coded:
        urgent = ResponseTheme.objects.filter(response=OuterRef("pk"), theme__is_urgent=True)
        Response.objects.filter(pk__in=response_ids, is_flagged=False).filter(Exists(urgent)).update(is_flagged=True)
    return {"coded": coded, "cases_opened": responses_follow_up(response_ids=response_ids)}
