"""Run a marketplace forward week by week with Kiln in the loop (docs/simulation.md).

1. The generator writes the marketplace over history plus the simulated horizon. Its purchases
   after the start are taken out of the database: they are the natural course of every buyer and
   artisan (what happens with no intervention), released into the database week by week.
2. Each simulated week Kiln's own pipeline machinery runs (buyer retention scores, then the
   retention interventions stage: holdout draw and case opening), message plays go out through
   the outbox, and simulated staff work the case queues at a fixed capacity.
3. When a worked case or a delivered message reaches a subject, the subject responds by its
   ground-truth stratum (simulation.params.Effect): a persuadable subject buys (or sells) in its
   window, a do-not-disturb subject's remaining purchases in the window vanish. The simulator
   records each treated subject's individual effect, so the true effect of every intervention
   is known exactly and the holdout report can be checked against it.

The simulator empties and rewrites the marketplace tables: run it on a scratch database.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import numpy as np
import pandas as pd
from django.contrib.auth.models import Group, User
from django.db.models import F
from django.test.utils import override_settings

from retention.impact import RETAINED, impact_report
from retention.interventions import Flag, interventions_assign
from buyers.models import (
    Buyer,
    BuyerRetention,
    ChurnBand,
    InterventionArm,
    InterventionAssignment,
    LifetimeFit,
    RetentionSettings,
    Segment,
)
from retention.uplift import cases_in_queue_order
from casework.models import Case, CaseKind, Outcome
from casework.ordering import cases_in_workbench_order
from casework.services import case_resolve
from core import roles
from core.models import OutboxMessage, OutboxStatus, PipelineLease, PipelineRun
from core.outbox import outbox_enqueue_many
from integrations.bulk import MAX_BULK_ITEMS
from integrations.models import PendingReaction
from integrations.reactions import reactions_batched
from marketplace import api as storefront_api
from loyalty.badges import badges_evaluate
from loyalty.models import Badge, BadgeAward
from marketplace.generator.services import generate_marketplace
from marketplace.models import EngagementEvent, Order, OrderLine, OrderStatus, Return, Review
from sellers.models import Listing, Seller

from . import params as P

from workflows.pipeline import pipeline_run_inline


def _draw(seed: int, *parts) -> float:
    """A uniform number fixed by the seed and the subject: the same subject flagged on the same
    day responds the same way in every run of a seed (common random numbers across orderings)."""
    key = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


class Storefront:
    """The storefront's side of the sync: its events reach Kiln through Kiln's own bulk ingestion
    (the storefront API's bulk entry point, ``run_objects``, without HTTP): the API's validation
    and external-id resolution, the set-based services and their reactions (points, rescoring).
    Counts every item's answer; a rejected order never happened as far as Kiln knows."""

    def __init__(self):
        self.answers: dict[str, Counter] = defaultdict(Counter)
        self.seconds = 0.0

    def send(self, noun: str, api, items: list[dict]) -> list[dict]:
        results: list[dict] = []
        for first in range(0, len(items), MAX_BULK_ITEMS):
            results.extend(api().run_objects(items[first : first + MAX_BULK_ITEMS]))
        for result in results:
            self.answers[noun][result["status"]] += 1
        return results


class Future:
    """The generator's orders and events after the start, held back and sent week by week.

    Each fact goes to Kiln when it happens on the storefront: an order when it is placed, its
    shipment, delivery, return or cancellation when each happens, a review when it is written,
    an engagement event when it occurs.
    """

    def __init__(self, start: datetime):
        orders = list(Order.objects.filter(placed_at__gte=start).order_by("placed_at", "pk"))
        ids = [order.pk for order in orders]
        self.lines = defaultdict(list)
        for line in OrderLine.objects.filter(order_id__in=ids).order_by("pk"):
            self.lines[line.order_id].append(line)
        self.returns = {row.order_id: row for row in Return.objects.filter(order_id__in=ids)}
        self.reviews = sorted(Review.objects.filter(order_id__in=ids), key=lambda r: (r.created_at, r.pk))
        self.events = list(EngagementEvent.objects.filter(occurred_at__gte=start).order_by("occurred_at", "pk"))
        # External ids: the storefront speaks only in its own ids.
        self.buyer_ext = dict(Buyer.objects.values_list("pk", "external_id"))
        self.seller_ext = dict(Seller.objects.values_list("pk", "external_id"))
        self.listing_ext = dict(Listing.objects.values_list("pk", "external_id"))
        # The listing a simulated extra purchase buys: the artisan's first made-to-order listing
        # (no stock to run out of), else its first listing.
        self.listing_for: dict[int, int] = {}
        for listing_id, seller_id, tracked in (
            Listing.objects.order_by("seller_id", F("stock_quantity").asc(nulls_first=True), "pk")
            .values_list("pk", "seller_id", "stock_quantity")
        ):
            self.listing_for.setdefault(seller_id, listing_id)
        Order.objects.filter(pk__in=ids).delete()
        EngagementEvent.objects.filter(occurred_at__gte=start).delete()
        self.orders = orders
        self.released: set[int] = set()  # orders sent and accepted
        self.removed: set[int] = set()  # orders a response took out of the course
        self.rejected: set[int] = set()  # orders Kiln refused: they never happened for Kiln
        self.steps_sent: dict[int, int] = defaultdict(int)
        self.reviews_sent = 0
        self.by = {"buyer": defaultdict(list), "seller": defaultdict(list)}
        self.by_pk = {order.pk: order for order in orders}
        for order in orders:
            self.by["buyer"][order.buyer_id].append(order)
            self.by["seller"][order.seller_id].append(order)
        self.next_pk = (Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + len(orders) + 1
        self.events_released = 0
        self.storefront = Storefront()

    def _steps(self, order: Order) -> list[dict]:
        """The order's status events after placement, in lifecycle order."""
        steps = []
        if order.status == OrderStatus.CANCELLED:
            return [{"order": order.external_id, "status": "cancelled", "at": order.cancelled_at, "reason": order.cancel_reason}]
        if order.shipped_at:
            steps.append({"order": order.external_id, "status": "shipped", "at": order.shipped_at})
        if order.delivered_at:
            steps.append({"order": order.external_id, "status": "delivered", "at": order.delivered_at})
        if order.status == OrderStatus.RETURNED and order.returned_at:
            record = self.returns.get(order.pk)
            step = {"order": order.external_id, "status": "returned", "at": order.returned_at,
                    "reason": record.reason if record else "other"}
            if record is not None:
                step.update(detail=record.detail, refund_amount=record.refund_amount)
            steps.append(step)
        return steps

    def _order_item(self, order: Order) -> dict:
        lines = self.lines.get(order.pk) or []
        return {
            "external_id": order.external_id, "buyer": self.buyer_ext[order.buyer_id], "seller": self.seller_ext[order.seller_id],
            "placed_at": order.placed_at, "ship_by": order.ship_by, "total_amount": order.total_amount,
            "lines": [{"listing": self.listing_ext[line.listing_id], "quantity": line.quantity, "unit_price": line.unit_price}
                      for line in lines],
        }

    def release(self, until: datetime) -> int:
        """Send Kiln every storefront event that happened before ``until``: one sync, whose
        reactions (points, seller rescoring) run once per subject after it, as after a bulk request."""
        started = time.monotonic()
        with reactions_batched():
            released = self._release(until)
        self.storefront.seconds += time.monotonic() - started
        return released

    def _release(self, until: datetime) -> int:
        due = [o for o in self.orders if o.placed_at < until and o.pk not in self.released
               and o.pk not in self.removed and o.pk not in self.rejected]
        self._restock(due)
        results = self.storefront.send("orders", storefront_api.OrderSyncBulkApi, [self._order_item(o) for o in due])
        for order, result in zip(due, results):
            (self.released if result["status"] == "created" else self.rejected).add(order.pk)
        # Status events of orders Kiln holds, in time order (an order's steps in lifecycle order).
        steps = []
        for order in self.orders:
            if order.pk not in self.released:
                continue
            pending = self._steps(order)[self.steps_sent[order.pk]:]
            for rank, step in enumerate(pending):
                if step["at"] >= until:
                    break
                steps.append((step["at"], rank, order.pk, step))
        steps.sort(key=lambda row: row[:3])
        self.storefront.send("status changes", storefront_api.OrderStatusSyncBulkApi, [step for *_, step in steps])
        for _, _, order_pk, _ in steps:
            self.steps_sent[order_pk] += 1
        reviews = []
        while self.reviews_sent < len(self.reviews) and self.reviews[self.reviews_sent].created_at < until:
            review = self.reviews[self.reviews_sent]
            self.reviews_sent += 1
            if review.order_id not in self.released:
                continue  # its order never reached Kiln (removed by a response, or refused)
            order = self.by_pk[review.order_id]
            reviews.append({
                "external_id": review.external_id, "buyer": self.buyer_ext[review.buyer_id],
                "seller": self.seller_ext[review.seller_id], "order": order.external_id, "rating": review.rating,
                "text": review.text, "created_at": review.created_at, "updated_at": max(review.updated_at, review.created_at),
            })
        self.storefront.send("reviews", storefront_api.ReviewSyncBulkApi, reviews)
        events = []
        while self.events_released < len(self.events) and self.events[self.events_released].occurred_at < until:
            event = self.events[self.events_released]
            self.events_released += 1
            events.append({
                "external_id": event.external_id or f"SIM-E{event.pk:010d}", "kind": event.kind,
                "buyer": self.buyer_ext.get(event.buyer_id), "seller": self.seller_ext.get(event.seller_id),
                "target_seller": self.seller_ext.get(event.target_seller_id), "occurred_at": event.occurred_at,
                "response_minutes": event.response_minutes,
            })
        self.storefront.send("engagement events", storefront_api.EngagementEventSyncBulkApi, events)
        return len(due)

    def _restock(self, orders: list[Order]) -> None:
        """The generator's stock is a snapshot, not kept in step with its sales; before sending
        orders the storefront syncs each tracked listing that would run short (the artisan
        restocked), through the listing sync, so Kiln's stock check accepts the natural course."""
        need: Counter = Counter()
        for order in orders:
            for line in self.lines.get(order.pk) or []:
                need[line.listing_id] += line.quantity
        short = Listing.objects.filter(pk__in=list(need), stock_quantity__isnull=False).order_by("pk")
        items = [
            {"external_id": listing.external_id, "seller": self.seller_ext[listing.seller_id], "title": listing.title,
             "category": listing.category, "price": listing.price, "stock_quantity": need[listing.pk],
             "is_seasonal": listing.is_seasonal, "is_active": listing.is_active}
            for listing in short if listing.stock_quantity < need[listing.pk]
        ]
        self.storefront.send("listing restocks", storefront_api.ListingSyncBulkApi, items)

    def outcome(self, subject: str, subject_id: int, lo: datetime, hi: datetime) -> bool:
        return any(
            lo < o.placed_at <= hi and o.status != OrderStatus.CANCELLED and o.pk not in self.removed
            and o.pk not in self.rejected
            for o in self.by[subject][subject_id]
        )

    def outcome_if_removed(self, subject: str, subject_id: int, lo: datetime, hi: datetime, at: datetime) -> bool:
        """The outcome in (lo, hi] if ``remove`` took the subject's orders from ``at`` on."""
        return any(
            lo < o.placed_at <= hi and o.status != OrderStatus.CANCELLED and o.pk not in self.removed
            and o.pk not in self.rejected and (o.placed_at < at or o.pk in self.released)
            for o in self.by[subject][subject_id]
        )

    def remove(self, subject: str, subject_id: int, lo: datetime, hi: datetime) -> None:
        for o in self.by[subject][subject_id]:
            if lo <= o.placed_at <= hi and o.pk not in self.released:
                self.removed.add(o.pk)

    def add(self, *, buyer_id: int, seller_id: int, at: datetime) -> None:
        pk = self.next_pk
        self.next_pk += 1
        listing_id = self.listing_for.get(seller_id)
        if listing_id is None:
            return
        order = Order(
            pk=pk, external_id=f"SIM{pk:09d}", buyer_id=buyer_id, seller_id=seller_id, status=OrderStatus.DELIVERED,
            total_amount=Decimal("40.00"), placed_at=at, ship_by=at + timedelta(days=3),
            shipped_at=at + timedelta(days=1), delivered_at=at + timedelta(days=4),
        )
        self.lines[pk] = [OrderLine(order_id=pk, listing_id=listing_id, quantity=1, unit_price=Decimal("40.00"))]
        self.orders.append(order)
        self.by["buyer"][buyer_id].append(order)
        self.by["seller"][seller_id].append(order)


@dataclass
class Truth:
    kind: str
    subject: str
    subject_id: int
    arm: str
    flagged_at: datetime
    window_ends_at: datetime
    churn_probability: float | None
    effect: int = 0
    # The effect's expectation over the subject's persuadable / do-not-disturb draw, given whether it
    # would have bought anyway: the same truth as ``effect`` without the noise of that one coin.
    expected_effect: float = 0.0
    worked: bool = False
    reached: bool = False


@dataclass
class SimulationResult:
    params: P.SimulationParams
    start: datetime
    end: datetime
    report: list
    truth: dict = field(default_factory=dict)  # kind -> true effect (mean individual effect, treated arm)
    strata: dict = field(default_factory=dict)  # kind -> counts of persuaded / deterred treated subjects
    cases_worked: dict = field(default_factory=dict)
    incremental_per_case: dict = field(default_factory=dict)  # kind -> true extra retained per case worked
    expected_per_case: dict = field(default_factory=dict)  # kind -> the same, in expectation over each draw
    seconds: float = 0.0
    # What the storefront sent Kiln: per kind of event, how many items Kiln answered created,
    # updated, duplicate or rejected; and the seconds spent in Kiln's ingestion.
    ingest: dict = field(default_factory=dict)
    ingest_seconds: float = 0.0

    def lift(self, kind: str, outcome: str = RETAINED):
        return next((row for row in self.report if row.kind == kind and row.outcome == outcome), None)


def _reset(params: P.SimulationParams) -> None:
    """Kiln's own state from an earlier run (the generator clears the marketplace tables)."""
    for model in (InterventionAssignment, Case, OutboxMessage, PipelineRun, LifetimeFit, BuyerRetention, PendingReaction):
        model.objects.all().delete()
    PipelineLease.objects.all().delete()
    RetentionSettings.objects.all().delete()
    RetentionSettings.objects.create(pk=1, holdout_share=params.holdout_share, outcome_window_days=params.outcome_window_days)


def _staff(role: str, username: str) -> User:
    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


class Simulator:
    def __init__(self, params: P.SimulationParams):
        self.p = params
        self.truth: dict[int, Truth] = {}

    # --- responses -------------------------------------------------------------------

    def respond(self, assignment_id: int, at: datetime) -> None:
        """The subject was reached at ``at``: apply its ground-truth stratum."""
        truth = self.truth[assignment_id]
        truth.reached = True
        effect = self.p.effects.get(truth.kind, P.Effect())
        lo, hi = truth.flagged_at, truth.window_ends_at
        if at >= hi:
            return
        before = self.future.outcome(truth.subject, truth.subject_id, lo, hi)
        persuadable = effect.persuadable(truth.churn_probability)
        if before:
            flips = not self.future.outcome_if_removed(truth.subject, truth.subject_id, lo, hi, at)
            truth.expected_effect = -effect.do_not_disturb_share if flips else 0.0
        else:
            # The artisan a persuaded subject's extra order would go to; ``Future.add`` needs one
            # with a listing, so the expected effect counts only what the draw could really do.
            seller_id = self._usual_seller(truth.subject_id) if truth.subject == "buyer" else truth.subject_id
            can_sell = seller_id is not None and self.future.listing_for.get(seller_id) is not None
            truth.expected_effect = persuadable if can_sell else 0.0
        u = _draw(self.p.seed, truth.kind, truth.subject, truth.subject_id, f"{lo:%Y-%m-%d}")
        if not before and u < persuadable:
            if seller_id is None:
                return
            when = at + (hi - at) * _draw(self.p.seed, "when", truth.subject, truth.subject_id, f"{lo:%Y-%m-%d}")
            buyer_id = truth.subject_id if truth.subject == "buyer" else self._some_buyer(truth.subject_id)
            self.future.add(buyer_id=buyer_id, seller_id=seller_id, at=max(when, at))
        elif before and u < effect.do_not_disturb_share:
            self.future.remove(truth.subject, truth.subject_id, at, hi)
        truth.effect = int(self.future.outcome(truth.subject, truth.subject_id, lo, hi)) - int(before)

    def _usual_seller(self, buyer_id: int) -> int | None:
        return Order.objects.filter(buyer_id=buyer_id).order_by("-placed_at").values_list("seller_id", flat=True).first()

    def _some_buyer(self, seller_id: int) -> int:
        last = Order.objects.filter(seller_id=seller_id).order_by("-placed_at").values_list("buyer_id", flat=True).first()
        return last or Order.objects.values_list("buyer_id", flat=True).first()

    # --- the weekly loop -----------------------------------------------------------------

    def _record_new_assignments(self, as_of: datetime) -> None:
        day = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
        for a in InterventionAssignment.objects.filter(flagged_at=day).exclude(pk__in=list(self.truth)):
            subject = "buyer" if a.buyer_id else "seller"
            churn = (a.evidence or {}).get("churn_probability")
            self.truth[a.pk] = Truth(
                kind=a.kind, subject=subject, subject_id=a.buyer_id or a.seller_id, arm=a.arm, flagged_at=a.flagged_at,
                window_ends_at=a.window_ends_at, churn_probability=None if churn is None else float(churn),
            )

    def _message_play(self, kind: str, band: str, category: str, as_of: datetime, week: int) -> None:
        rows = list(
            BuyerRetention.objects.filter(churn_band=band).exclude(segment__in=[Segment.CHURNED, Segment.NEW])
            .order_by("buyer_id").values_list("buyer_id", "churn_probability", "buyer__email")
        )
        rng = np.random.default_rng([self.p.seed, week, len(kind)])
        if len(rows) > self.p.messages_per_week:
            rows = [rows[i] for i in sorted(rng.choice(len(rows), self.p.messages_per_week, replace=False))]
        wording = {
            P.RECOMMENDATION: ("Picked for you", "Artisans you may like."),
            P.EXPIRY_REMINDER: ("Your points expire soon", "Use your points before they expire."),
        }[kind]
        self._notify(kind, category, rows, as_of, *wording)

    def _badge_play(self, badge: Badge, as_of: datetime) -> None:
        """Kiln's badge evaluation awards the badge; its new earners are flagged, and the treated
        arm gets a notice of it through the outbox (the held-out arm keeps the badge, unannounced)."""
        badges_evaluate(badge_ids=[badge.pk], now=as_of)
        earners = list(
            BadgeAward.objects.filter(badge=badge, awarded_at=as_of, revoked_at__isnull=True)
            .order_by("buyer_id").values_list("buyer_id", "buyer__email")
        )
        churn = dict(BuyerRetention.objects.filter(buyer_id__in=[b for b, _ in earners]).values_list("buyer_id", "churn_probability"))
        rows = [(b, churn.get(b), email) for b, email in earners]
        self._notify(P.BADGE_NOTICE, "loyalty_badge_earned", rows, as_of, f"You earned the {badge.name} badge",
                     f"{badge.description} Thank you for supporting the artisans you love.")

    def _notify(self, kind: str, category: str, rows, as_of: datetime, subject: str, body: str) -> None:
        """Flag the (buyer, churn probability, email) rows for ``kind``, draw their arms, send the
        treated their message through the outbox, and let those it reached respond."""
        flags = [Flag(subject_id=b, reason=kind, evidence={} if c is None else {"churn_probability": round(c, 3)})
                 for b, c, _ in rows]
        arms = interventions_assign(kind=kind, subject="buyer", flags=flags, as_of=as_of)
        self._record_new_assignments(as_of)
        day = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
        fresh = {
            a.buyer_id: a.pk
            for a in InterventionAssignment.objects.filter(kind=kind, flagged_at=day, arm=InterventionArm.TREATED)
        }
        email = {b: e for b, _, e in rows}
        outbox_enqueue_many([
            {"dedupe_key": f"{kind}:{b}:{day:%Y-%m-%d}", "to": email[b], "category": category,
             "subject": subject, "body": body, "context": {}}
            for b in fresh if b in email and arms.get(b) == InterventionArm.TREATED
        ])
        delivered = set(
            OutboxMessage.objects.filter(dedupe_key__in=[f"{kind}:{b}:{day:%Y-%m-%d}" for b in fresh])
            .exclude(status=OutboxStatus.SUPPRESSED).values_list("dedupe_key", flat=True)
        )
        for buyer_id, assignment_id in fresh.items():
            if f"{kind}:{buyer_id}:{day:%Y-%m-%d}" in delivered:
                self.respond(assignment_id, as_of + timedelta(hours=12))

    def _work_queue(self, kind: str, capacity: int, staff: User, as_of: datetime, ordering: str) -> None:
        # Staff work the queue as the workbench lists it: priority, then due date, unless the
        # kind's uplift order is switched on (cases_in_queue_order); random order is exploration.
        cases = list(Case.objects.active().filter(kind=kind).order_by("pk"))
        if ordering == "random":
            rng = np.random.default_rng([self.p.seed, int(as_of.timestamp()), len(kind)])
            ordered = [cases[i] for i in rng.permutation(len(cases))]
        elif kind == CaseKind.BUYER_CHURN_RISK:
            ordered = cases_in_queue_order(cases, case_kind=kind, order_by=ordering)
        else:
            ordered = cases_in_workbench_order(cases)
        by_case = dict(InterventionAssignment.objects.filter(case_id__in=[c.pk for c in ordered[:capacity]]).values_list("case_id", "pk"))
        for case in ordered[:capacity]:
            reached = _draw(self.p.seed, "reach", case.kind, case.pk) < self.p.reached_share
            outcome = Outcome.CONTACTED if reached else Outcome.NO_ACTION
            case_resolve(case=case, outcome=outcome, note="Simulated staff.", actor=staff)
            assignment_id = by_case.get(case.pk)
            if assignment_id in self.truth:
                self.truth[assignment_id].worked = True
                if reached:
                    self.respond(assignment_id, as_of + timedelta(days=1))

    def run(self, *, ordering: str | None = None) -> SimulationResult:
        started = time.monotonic()
        p = self.p
        ordering = ordering or p.ordering
        end = pd.Timestamp(p.end)
        start = (end - pd.Timedelta(days=p.horizon_days)).to_pydatetime().replace(tzinfo=dt_timezone.utc)
        end_dt = end.to_pydatetime().replace(tzinfo=dt_timezone.utc)
        months = p.history_months + math.ceil(p.horizon_days / 30.44)
        generate_marketplace(sellers=p.sellers, buyers=p.buyers, months=months, seed=p.seed, end=p.end, clear=True, progress=False)
        _reset(p)
        cs = _staff(roles.CUSTOMER_SUCCESS, "sim-customer-success")
        ss = _staff(roles.SELLER_SUPPORT, "sim-seller-support")
        self.future = Future(start)
        badge, _ = Badge.objects.update_or_create(code=P.SUPPORT_YOUR_ARTISAN["code"], defaults=P.SUPPORT_YOUR_ARTISAN)
        from config.celery import app as celery_app

        # Kiln's tasks (outbox deliveries, ingestion reactions) run in-process. The app reads its
        # settings from Django under the CELERY_ namespace, so that is the key to switch.
        eager = celery_app.conf.get("CELERY_TASK_ALWAYS_EAGER")
        celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
        try:
            # Each seed's marketplace is its own installation with its own holdout salt: buyer ids and
            # flag days repeat from seed to seed, and an unsalted draw would repeat their arms too.
            with override_settings(
                EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend", MESSAGING_QUIET_HOURS=False,
                HOLDOUT_SALT=f"simulation-seed-{p.seed}",
            ):
                for week in range(p.flag_weeks):
                    as_of = start + timedelta(weeks=week)
                    self.future.release(as_of)
                    stages = "simulation.stages:WITH_FITS" if week % p.lifetime_refit_weeks == 0 else "simulation.stages:WEEKLY"
                    with override_settings(PIPELINE_STAGES=stages):
                        for _ in pipeline_run_inline(as_of=as_of):
                            pass
                    self._record_new_assignments(as_of)
                    self._message_play(P.RECOMMENDATION, ChurnBand.MEDIUM, "buyer_recommendations", as_of, week)
                    self._message_play(P.EXPIRY_REMINDER, ChurnBand.LOW, "loyalty_expiry_reminder", as_of, week)
                    self._badge_play(badge, as_of)
                    self._work_queue(CaseKind.BUYER_CHURN_RISK, p.customer_success_capacity, cs, as_of, ordering)
                    self._work_queue(CaseKind.SELLER_DORMANT, p.seller_support_capacity, ss, as_of, "due")
                # The rest of the course, until every outcome window has closed.
                self.future.release(end_dt)
        finally:
            celery_app.conf.CELERY_TASK_ALWAYS_EAGER = eager
        kinds = sorted({t.kind for t in self.truth.values()})
        result = SimulationResult(params=p, start=start, end=end_dt, report=impact_report(as_of=end_dt, kinds=kinds))
        for kind in kinds:
            treated = [t for t in self.truth.values() if t.kind == kind and t.arm == InterventionArm.TREATED and t.window_ends_at <= end_dt]
            worked = [t for t in treated if t.worked]
            result.truth[kind] = sum(t.effect for t in treated) / len(treated) if treated else None
            result.strata[kind] = {
                "treated": len(treated),
                "reached": sum(t.reached for t in treated),
                "persuaded": sum(t.effect > 0 for t in treated),
                "deterred": sum(t.effect < 0 for t in treated),
            }
            result.cases_worked[kind] = len(worked)
            result.incremental_per_case[kind] = sum(t.effect for t in worked) / len(worked) if worked else None
            result.expected_per_case[kind] = sum(t.expected_effect for t in worked) / len(worked) if worked else None
        result.ingest = {noun: dict(answers) for noun, answers in self.future.storefront.answers.items()}
        result.ingest_seconds = round(self.future.storefront.seconds, 2)
        result.seconds = round(time.monotonic() - started, 2)
        return result


def simulate(params: P.SimulationParams, *, ordering: str | None = None) -> SimulationResult:
    """One seeded run; the same params give the same report and truth."""
    return Simulator(params).run(ordering=ordering)
