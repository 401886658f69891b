"""Reads over scores."""

from scoring.models import SellerScore, SellerScoreHistory
from sellers.models import Seller


def seller_score_current(*, seller: Seller) -> SellerScore | None:
    return SellerScore.objects.select_related("model_version").filter(seller=seller).first()


def seller_score_trend(*, seller: Seller, limit: int = 30) -> list[SellerScoreHistory]:
    return list(SellerScoreHistory.objects.filter(seller=seller).order_by("-computed_at")[:limit])
