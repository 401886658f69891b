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
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import numpy as np
import pandas as pd
from django.contrib.auth.models import Group, User
from django.test.utils import override_settings

from retention.impact import RETAINED, impact_report
from retention.interventions import Flag, interventions_assign
from buyers.models import (
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
from casework.services import case_resolve
from core import roles
from core.models import OutboxMessage, OutboxStatus, PipelineLease, PipelineRun
from core.outbox import outbox_enqueue_many
from marketplace.generator.services import generate_marketplace
from marketplace.models import EngagementEvent, Order, OrderLine, OrderStatus, Return, Review

from . import params as P

from workflows.pipeline import pipeline_run_inline


def _draw(seed: int, *parts) -> float:
    """A uniform number fixed by the seed and the subject: the same subject flagged on the same
    day responds the same way in every run of a seed (common random numbers across orderings)."""
    key = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


class Future:
    """The generator's orders and events after the start, held back and released week by week."""

    def __init__(self, start: datetime):
        orders = list(Order.objects.filter(placed_at__gte=start).order_by("placed_at", "pk"))
        ids = [order.pk for order in orders]
        self.lines = defaultdict(list)
        for line in OrderLine.objects.filter(order_id__in=ids):
            self.lines[line.order_id].append(line)
        self.returns = {row.order_id: row for row in Return.objects.filter(order_id__in=ids)}
        self.reviews = defaultdict(list)
        for review in Review.objects.filter(order_id__in=ids):
            self.reviews[review.order_id].append(review)
        self.events = list(EngagementEvent.objects.filter(occurred_at__gte=start).order_by("occurred_at", "pk"))
        Order.objects.filter(pk__in=ids).delete()
        EngagementEvent.objects.filter(occurred_at__gte=start).delete()
        self.orders = orders
        self.released: set[int] = set()
        self.removed: set[int] = set()
        self.by = {"buyer": defaultdict(list), "seller": defaultdict(list)}
        for order in orders:
            self.by["buyer"][order.buyer_id].append(order)
            self.by["seller"][order.seller_id].append(order)
        self.next_pk = (Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + len(orders) + 1
        self.events_released = 0

    def release(self, until: datetime) -> int:
        """Write every held-back order and event before ``until`` into the database."""
        due = [o for o in self.orders if o.placed_at < until and o.pk not in self.released and o.pk not in self.removed]
        Order.objects.bulk_create(due, batch_size=1000)
        OrderLine.objects.bulk_create([line for o in due for line in self.lines.get(o.pk, [])], batch_size=1000)
        Return.objects.bulk_create([self.returns[o.pk] for o in due if o.pk in self.returns], batch_size=1000)
        Review.objects.bulk_create([r for o in due for r in self.reviews.get(o.pk, [])], batch_size=1000)
        self.released.update(o.pk for o in due)
        events = []
        while self.events_released < len(self.events) and self.events[self.events_released].occurred_at < until:
            events.append(self.events[self.events_released])
            self.events_released += 1
        EngagementEvent.objects.bulk_create(events, batch_size=1000)
        return len(due)

    def outcome(self, subject: str, subject_id: int, lo: datetime, hi: datetime) -> bool:
        return any(
            lo < o.placed_at <= hi and o.status != OrderStatus.CANCELLED and o.pk not in self.removed
            for o in self.by[subject][subject_id]
        )

    def remove(self, subject: str, subject_id: int, lo: datetime, hi: datetime) -> None:
        for o in self.by[subject][subject_id]:
            if lo <= o.placed_at <= hi and o.pk not in self.released:
                self.removed.add(o.pk)

    def add(self, *, buyer_id: int, seller_id: int, at: datetime) -> None:
        pk = self.next_pk
        self.next_pk += 1
        order = Order(
            pk=pk, external_id=f"SIM{pk:09d}", buyer_id=buyer_id, seller_id=seller_id, status=OrderStatus.DELIVERED,
            total_amount=Decimal("40.00"), placed_at=at, ship_by=at + timedelta(days=3),
            shipped_at=at + timedelta(days=1), delivered_at=at + timedelta(days=4),
        )
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
    seconds: float = 0.0

    def lift(self, kind: str, outcome: str = RETAINED):
        return next((row for row in self.report if row.kind == kind and row.outcome == outcome), None)


def _reset(params: P.SimulationParams) -> None:
    """Kiln's own state from an earlier run (the generator clears the marketplace tables)."""
    for model in (InterventionAssignment, Case, OutboxMessage, PipelineRun, LifetimeFit, BuyerRetention):
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
        u = _draw(self.p.seed, truth.kind, truth.subject, truth.subject_id, f"{lo:%Y-%m-%d}")
        if not before and u < effect.persuadable(truth.churn_probability):
            when = at + (hi - at) * _draw(self.p.seed, "when", truth.subject, truth.subject_id, f"{lo:%Y-%m-%d}")
            if truth.subject == "buyer":
                seller_id = self._usual_seller(truth.subject_id)
                if seller_id is None:
                    return
                self.future.add(buyer_id=truth.subject_id, seller_id=seller_id, at=max(when, at))
            else:
                self.future.add(buyer_id=self._some_buyer(truth.subject_id), seller_id=truth.subject_id, at=max(when, at))
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
        flags = [Flag(subject_id=b, reason=kind, evidence={"churn_probability": round(c, 3)}) for b, c, _ in rows]
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
             "subject": "Picked for you" if kind == P.RECOMMENDATION else "Your points expire soon",
             "body": "Artisans you may like." if kind == P.RECOMMENDATION else "Use your points before they expire.",
             "context": {}}
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
        cases = list(Case.objects.active().filter(kind=kind))
        if ordering == "random":
            rng = np.random.default_rng([self.p.seed, int(as_of.timestamp()), len(kind)])
            ordered = [cases[i] for i in rng.permutation(len(cases))]
        elif kind == CaseKind.BUYER_CHURN_RISK:
            ordered = cases_in_queue_order(cases, case_kind=kind, order_by=ordering)
        else:
            ordered = sorted(cases, key=lambda c: (c.due_at, c.pk))
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
        import time

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
        from config.celery import app as celery_app

        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        try:
            with override_settings(
                EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend", MESSAGING_QUIET_HOURS=False
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
                    self._work_queue(CaseKind.BUYER_CHURN_RISK, p.customer_success_capacity, cs, as_of, ordering)
                    self._work_queue(CaseKind.SELLER_DORMANT, p.seller_support_capacity, ss, as_of, "due")
        finally:
            celery_app.conf.task_always_eager = eager
        self.future.release(end_dt)
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
        result.seconds = round(time.monotonic() - started, 2)
        return result


def simulate(params: P.SimulationParams, *, ordering: str | None = None) -> SimulationResult:
    """One seeded run; the same params give the same report and truth."""
    return Simulator(params).run(ordering=ordering)
