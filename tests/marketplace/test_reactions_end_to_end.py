"""The reactions against the real tasks of the other apps (run eagerly after commit):
points earned and reversed, sellers rescored, applications scored and routed."""

from datetime import timedelta

import pytest

from loyalty.factories import EarningRuleFactory
from loyalty.models import EntryKind, LoyaltyProgram, PointsEntry, RuleKind, SourceType
from marketplace.factories import OrderFactory
from marketplace.models import OrderStatus
from scoring.models import SellerScore
from sellers.factories import SellerFactory
from sellers.models import OnboardingStatus, Seller
from tests.marketplace.conftest import BASE

pytestmark = pytest.mark.django_db


@pytest.fixture
def loyalty_rules(db):
    program, _ = LoyaltyProgram.objects.get_or_create(pk=1)
    program.pending_days = 14
    program.save()
    EarningRuleFactory(name="1 point per unit", kind=RuleKind.SPEND)
    EarningRuleFactory(name="Review", kind=RuleKind.REVIEW, points=25)
    EarningRuleFactory(name="Follow", kind=RuleKind.FOLLOW_ARTISAN, points=5)


def _post(api, capture, path, body):
    with capture(execute=True):
        response = api.post(f"{BASE}/{path}", body, format="json")
    assert response.status_code in (200, 201), response.json()
    return response


def test_delivery_earns_pending_points_and_the_return_reverses_them(api, loyalty_rules, django_capture_on_commit_callbacks):
    order = OrderFactory(status=OrderStatus.SHIPPED)
    at = order.shipped_at

    _post(api, django_capture_on_commit_callbacks, "orders/status/",
          {"order": order.external_id, "status": "delivered", "at": (at + timedelta(days=2)).isoformat()})
    earned = list(PointsEntry.objects.filter(source_type=SourceType.ORDER, source_id=order.pk, kind=EntryKind.EARN))
    _post(api, django_capture_on_commit_callbacks, "orders/status/",
          {"order": order.external_id, "status": "returned", "at": (at + timedelta(days=5)).isoformat(), "reason": "damaged"})

    assert len(earned) == 1 and earned[0].amount > 0
    reversal = PointsEntry.objects.get(source_type=SourceType.ORDER, source_id=order.pk, kind=EntryKind.REVERSE)
    assert abs(reversal.amount) == earned[0].amount


def test_a_review_earns_review_points_and_rescores_the_seller(api, loyalty_rules, django_capture_on_commit_callbacks):
    order = OrderFactory()
    assert not SellerScore.objects.filter(seller=order.seller).exists()

    response = _post(api, django_capture_on_commit_callbacks, "reviews/", {
        "external_id": "R-1", "buyer": order.buyer.external_id, "seller": order.seller.external_id,
        "order": order.external_id, "rating": 5, "created_at": order.delivered_at.isoformat(),
    })

    assert PointsEntry.objects.filter(source_type=SourceType.REVIEW, source_id=response.json()["id"], kind=EntryKind.EARN).exists()
    assert SellerScore.objects.filter(seller=order.seller).exists()


def test_a_follow_event_earns_engagement_points_and_rescores_the_artisan(api, loyalty_rules, django_capture_on_commit_callbacks):
    order = OrderFactory()

    response = _post(api, django_capture_on_commit_callbacks, "events/", {
        "external_id": "E-1", "kind": "follow_artisan", "buyer": order.buyer.external_id,
        "target_seller": order.seller.external_id, "occurred_at": order.delivered_at.isoformat(),
    })

    assert PointsEntry.objects.filter(source_id=response.json()["id"], kind=EntryKind.EARN).exists()
    assert SellerScore.objects.filter(seller=order.seller).exists()


def test_a_new_application_is_scored_and_routed(api, django_capture_on_commit_callbacks):
    SellerFactory.create_batch(2)

    _post(api, django_capture_on_commit_callbacks, "sellers/", {
        "external_id": "S-new", "name": "New Potter", "email": "potter@example.com", "craft_category": "ceramics",
        "years_experience": 6, "has_portfolio": True, "applied_at": "2026-11-20T10:00:00Z",
    })

    seller = Seller.objects.get(external_id="S-new")
    assert SellerScore.objects.filter(seller=seller).exists()
    assert seller.onboarding_status != OnboardingStatus.APPLIED


def test_a_bulk_sync_earns_each_event_its_points_once_in_one_set_and_a_redelivery_changes_nothing(
    api, loyalty_rules, django_capture_on_commit_callbacks
):
    from integrations.reactions import reactions_dispatch
    from workflows.reactions import ENGAGEMENT_POINTS, SELLER_RESCORE

    orders = [OrderFactory() for _ in range(3)]
    items = [
        {"external_id": f"E-{i}", "kind": kind, "buyer": order.buyer.external_id, "target_seller": order.seller.external_id,
         "occurred_at": order.delivered_at.isoformat()}
        for i, (order, kind) in enumerate((o, k) for o in orders for k in ("follow_artisan", "login"))
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{BASE}/events/bulk/", {"items": items}, format="json")
    ledger = sorted(PointsEntry.objects.values_list("buyer_id", "source_type", "source_id", "amount", "kind"))
    # The storefront's retry, or the stale sweep, sends the same reactions again.
    event_ids = [row["id"] for row in response.json()["results"]]
    reactions_dispatch(pairs=[(ENGAGEMENT_POINTS, pk) for pk in event_ids] + [(SELLER_RESCORE, o.seller_id) for o in orders])

    assert response.json()["summary"]["created"] == 6
    assert sorted(buyer for buyer, *_ in ledger) == sorted(o.buyer_id for o in orders)  # one follow lot each, logins earn nothing
    assert {amount for *_, amount, _ in ledger} == {5}
    assert sorted(PointsEntry.objects.values_list("buyer_id", "source_type", "source_id", "amount", "kind")) == ledger
    assert SellerScore.objects.filter(seller_id__in=[o.seller_id for o in orders]).count() == 3
