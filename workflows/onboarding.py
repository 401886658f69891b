"""Apply -> score -> route: a new application is scored by `scoring` and routed by `sellers`.

Scoring knows nothing of onboarding; it runs the routing given to it in the transaction that
writes the score, so a score and the decision it caused commit together.
"""

from datetime import datetime

from scoring import services as scoring_services
from scoring.models import SellerScore
from sellers.services import seller_route_on_rescore


def seller_rescore(*, seller_id: int, as_of: datetime | None = None) -> SellerScore:
    """Score one artisan now (new data arrived), keep the history, and re-route if still onboarding."""
    return scoring_services.seller_rescore(seller_id=seller_id, as_of=as_of, then=seller_route_on_rescore)


def sellers_rescore(*, seller_ids: list[int], as_of: datetime | None = None) -> int:
    """``seller_rescore`` for a set of artisans (a bulk sync's rescore reactions), in one pass."""
    return scoring_services.sellers_rescore(seller_ids=seller_ids, as_of=as_of, then=seller_route_on_rescore)


def seller_application_process(*, seller_id: int) -> SellerScore:
    """A new application: score it now, then route it."""
    return seller_rescore(seller_id=seller_id)
