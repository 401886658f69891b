"""The uplift learner ranks persuadable buyers first; admins alone switch a queue to it."""

from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from buyers.factories import BuyerFactory, InterventionAssignmentFactory
from buyers.models import QueueOrder, UpliftTargeting
from retention.uplift import cases_in_queue_order, uplift_model_train, uplift_targeting_set
from casework.factories import CaseFactory
from casework.models import CaseStatus
from core.factories import UserFactory
from core.roles import CUSTOMER_SUCCESS, MARKETPLACE_ADMIN
from marketplace.factories import OrderFactory
from scoring.registry import model_version_activate

pytestmark = pytest.mark.django_db
KIND = "buyer_churn_risk"


def _history(seed=7, n=160):
    """Buyers at 60-70% risk are persuadable (a worked case makes them buy); at 90-100% they are
    lost causes. Held-out buyers buy 10% of the time whatever their risk."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        churn = float(rng.choice([0.62, 0.66, 0.7, 0.9, 0.95, 0.99]))
        treated = i % 2 == 0
        evidence = {"churn_probability": churn, "p_alive": 1 - churn, "orders": 5, "days_since_last_order": 120,
                    "cadence_days": 60, "total_spend": "300.00"}
        buyer = BuyerFactory()
        case = CaseFactory(kind=KIND, seller=None, buyer=buyer, status=CaseStatus.RESOLVED, outcome="contacted",
                           closed_at=timezone.now()) if treated else None
        a = InterventionAssignmentFactory(arm="treated" if treated else "holdout", buyer=buyer, evidence=evidence, case=case)
        bought = rng.random() < (0.8 if treated and churn < 0.8 else 0.1)
        if bought:
            OrderFactory(buyer=a.buyer, placed_at=a.flagged_at + timedelta(days=20))


def test_uplift_ordering_puts_persuadable_buyers_before_the_riskiest(db):
    _history()
    admin = UserFactory(roles=[MARKETPLACE_ADMIN])
    version = uplift_model_train(case_kind=KIND, seed=1)
    assert version.metrics["uplift"]["difference"] > 0 and version.metrics["gate"]["passed"]
    model_version_activate(version=version, actor=admin)
    uplift_targeting_set(case_kind=KIND, order_by=QueueOrder.UPLIFT, actor=admin)
    cases = [
        CaseFactory(kind=KIND, seller=None, buyer=BuyerFactory(), evidence={"churn_probability": churn, "p_alive": 1 - churn, "orders": 5,
                                                              "days_since_last_order": 120, "cadence_days": 60, "total_spend": "300.00"})
        for churn in (0.99, 0.65, 0.95)
    ]

    by_uplift = cases_in_queue_order(cases, case_kind=KIND)
    by_risk = cases_in_queue_order(cases, case_kind=KIND, order_by=QueueOrder.RISK)

    # Risk order is the workbench's usual order (priority, then due date), not the churn probability.
    assert by_risk == cases
    assert by_uplift[0].evidence["churn_probability"] == 0.65


def test_training_refuses_too_few_outcomes(db):
    InterventionAssignmentFactory(arm="holdout")
    with pytest.raises(ValidationError, match="Too few closed outcomes"):
        uplift_model_train(case_kind=KIND)


def test_only_admins_switch_a_queue_and_only_with_an_active_model(db):
    staff = UserFactory(roles=[CUSTOMER_SUCCESS])
    admin = UserFactory(roles=[MARKETPLACE_ADMIN])

    with pytest.raises(PermissionDenied):
        uplift_targeting_set(case_kind=KIND, order_by=QueueOrder.UPLIFT, actor=staff)
    with pytest.raises(ValidationError, match="No active uplift model"):
        uplift_targeting_set(case_kind=KIND, order_by=QueueOrder.UPLIFT, actor=admin)
    row = uplift_targeting_set(case_kind=KIND, order_by=QueueOrder.RISK, actor=admin)
    assert (row.kind, row.order_by, row.updated_by) == (KIND, QueueOrder.RISK, admin)


def test_admin_page_saves_the_toggle_through_the_role_checked_service(client):
    admin = UserFactory(roles=[MARKETPLACE_ADMIN])
    client.force_login(admin)
    url = "/admin/buyers/uplifttargeting/add/"

    response = client.post(url, {"kind": KIND, "order_by": QueueOrder.UPLIFT}, follow=True)
    assert "No active uplift model" in response.content.decode()
    assert not UpliftTargeting.objects.exists()

    client.post(url, {"kind": KIND, "order_by": QueueOrder.RISK})
    assert UpliftTargeting.objects.get().order_by == QueueOrder.RISK

    client.force_login(UserFactory(roles=[CUSTOMER_SUCCESS]))
    assert client.get(url).status_code == 403


def test_model_card_shows_the_uplift_evaluation(client):
    _history()
    version = uplift_model_train(case_kind=KIND, seed=1)
    client.force_login(UserFactory(roles=[MARKETPLACE_ADMIN]))

    body = client.get(f"/admin/scoring/modelversion/{version.pk}/change/").content.decode()

    assert "Uplift evaluation (held out)" in body
    assert "lift in the top half of the ranking" in body
