"""Small real stages for exercising the pipeline machinery: they open cases, idempotently."""

import os
import time
from pathlib import Path

from django.db.models import Count, Q

from buyers.models import Buyer
from casework.models import Case, CaseKind
from casework.services import case_open
from workflows.pipeline import Stage
from sellers.models import Seller

# Tests drop files here to make a chunk fail or stall, visible to worker processes too.
CONTROL_DIR = Path(os.environ.get("KILN_TEST_PIPELINE_CONTROL", "/tmp/kiln-pipeline-control"))


def _control(name: str) -> bool:
    return (CONTROL_DIR / name).exists()


def flag_sellers_with_cancellations(*, lo, hi, as_of):
    if _control("fail-sellers"):
        raise ValueError("seller stage told to fail")
    if _control("stall-sellers"):
        time.sleep(float((CONTROL_DIR / "stall-sellers").read_text() or 30))
    sellers = Seller.objects.filter(pk__gte=lo, pk__lte=hi).annotate(
        cancelled=Count("orders", filter=Q(orders__status="cancelled"))
    ).filter(cancelled__gt=0)
    opened = 0
    for seller in sellers:
        _, created = case_open(
            kind=CaseKind.SELLER_QUALITY_ALERT, seller=seller, reason=f"{seller.cancelled} cancelled orders", evidence={"cancelled": seller.cancelled}
        )
        opened += created
    return opened


def flag_buyers_without_orders(*, lo, hi, as_of):
    buyers = Buyer.objects.filter(pk__gte=lo, pk__lte=hi, orders__isnull=True)
    opened = 0
    for buyer in buyers:
        _, created = case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=buyer, reason="No orders yet")
        opened += created
    return opened


def count_open_cases(*, as_of):
    return Case.objects.active().count()


STAGES = [
    Stage("sellers", level=0, keys="sellers.Seller", chunk=flag_sellers_with_cancellations),
    Stage("buyers", level=0, keys="buyers.Buyer", chunk=flag_buyers_without_orders),
    Stage("summary", level=1, finalize=count_open_cases),
]


def loyalty_award_then_stall(*, lo, hi, as_of):
    """The real loyalty chunk, then a pause inside its still-open transaction (to kill a worker there)."""
    from loyalty.pipeline import award_orders_chunk

    created = award_orders_chunk(lo=lo, hi=hi, as_of=as_of)
    if _control("stall-loyalty"):
        time.sleep(float((CONTROL_DIR / "stall-loyalty").read_text() or 30))
    return created


def _nightly_with_stalling_loyalty():
    from dataclasses import replace

    from workflows.stages import STAGES as NIGHTLY

    return [
        replace(stage, chunk=loyalty_award_then_stall) if stage.name == "loyalty_award_orders" else stage
        for stage in NIGHTLY
    ]


NIGHTLY_WITH_STALL = _nightly_with_stalling_loyalty()


def marketplace_build(*, cancelled: int, sold: int, buyers: int) -> None:
    """Artisans with cancelled and sold orders and buyers without orders: what the test stages flag."""
    from buyers.factories import BuyerFactory
    from marketplace.factories import OrderFactory
    from marketplace.models import OrderStatus

    for _ in range(cancelled):
        OrderFactory(status=OrderStatus.CANCELLED)
    for _ in range(sold):
        OrderFactory()
    BuyerFactory.create_batch(buyers)
