"""The buyer churn queue in the workbench: risk order by default, expected uplift when an admin
switches it on with an active uplift model, and only admins switch it."""

import re

import pytest
from django.urls import reverse

from buyers.factories import BuyerFactory
from buyers.models import QueueOrder, UpliftTargeting
from casework import services
from casework.models import Case, CaseKind, Priority
from core.factories import UserFactory
from core.roles import CUSTOMER_SUCCESS, MARKETPLACE_ADMIN
from retention.uplift import cases_in_queue_order, uplift_model_train
from scoring.models import ModelStatus, ModelVersion
from scoring.registry import model_version_activate
from tests.simulation.test_uplift import _history

pytestmark = pytest.mark.django_db
KIND = CaseKind.BUYER_CHURN_RISK
QUEUE = reverse("admin:casework_case_changelist") + f"?kind__exact={KIND}&queue=active"
POINTS = re.compile(r"[+-]\d+\.\d pts")
SWITCH = reverse("admin:casework_case_queue_order", args=[KIND])


def _open_cases():
    """Three flagged buyers, opened riskiest first: 99%, 65% and 95% churn probability."""
    cases = []
    for churn in (0.99, 0.65, 0.95):
        evidence = {"churn_probability": churn, "p_alive": 1 - churn, "orders": 5, "days_since_last_order": 120,
                    "cadence_days": 60, "total_spend": "300.00"}
        cases.append(services.case_open(kind=KIND, buyer=BuyerFactory(), reason="churn risk", evidence=evidence)[0])
    return cases


def _active_model(admin):
    _history()  # closed, worked and held-out outcomes: moderate-risk buyers are the persuadable ones
    version = uplift_model_train(case_kind=KIND, seed=1)
    model_version_activate(version=version, actor=admin)
    return version


def _queue(client):
    response = client.get(QUEUE)
    assert response.status_code == 200
    return [case.pk for case in response.context["cl"].result_list], response.content.decode()


def test_switching_to_uplift_order_reorders_the_queue_and_shows_each_expected_uplift(client):
    admin = UserFactory(roles=[MARKETPLACE_ADMIN])
    _active_model(admin)
    riskiest, moderate, risky = _open_cases()
    client.force_login(admin)

    before, page = _queue(client)
    assert before == [riskiest.pk, moderate.pk, risky.pk]  # priority, then due date: the order they were opened
    assert "priority, then due date" in page and not POINTS.search(page) and 'id="queue-order-uplift"' in page

    switched = client.post(SWITCH, {"order_by": QueueOrder.UPLIFT}, follow=True).content.decode()
    assert "now ordered: highest expected uplift first" in switched
    assert UpliftTargeting.objects.get(kind=KIND).order_by == QueueOrder.UPLIFT

    after, page = _queue(client)
    assert after[0] == moderate.pk and set(after) == {riskiest.pk, moderate.pk, risky.pk}
    assert "highest expected uplift first" in page and 'id="queue-order-risk"' in page
    shown = POINTS.findall(page)
    assert len(shown) == 3
    # The column is the model's expected uplift, highest first.
    values = [float(text.split()[0]) for text in shown]
    assert values == sorted(values, reverse=True)


def test_staff_see_the_order_but_cannot_switch_it(client):
    admin = UserFactory(roles=[MARKETPLACE_ADMIN])
    _active_model(admin)
    _open_cases()
    staff = UserFactory(roles=[CUSTOMER_SUCCESS])
    client.force_login(staff)

    _, page = _queue(client)
    assert "priority, then due date" in page and 'id="queue-order-uplift"' not in page
    assert "A marketplace admin can switch" in page

    assert client.post(SWITCH, {"order_by": QueueOrder.UPLIFT}).status_code == 403
    assert not UpliftTargeting.objects.exists()


def test_risk_order_is_the_workbench_order_whatever_the_model(client):
    admin = UserFactory(roles=[MARKETPLACE_ADMIN])
    cases = _open_cases()
    client.force_login(admin)
    default, _ = _queue(client)

    # No model: uplift cannot be switched on, and the queue keeps its order.
    refused = client.post(SWITCH, {"order_by": QueueOrder.UPLIFT}, follow=True).content.decode()
    assert "No active uplift model" in refused
    assert _queue(client)[0] == default == [case.pk for case in cases]

    # A model, but the kind left in risk order: same order, no uplift column.
    _active_model(admin)
    client.post(SWITCH, {"order_by": QueueOrder.RISK})
    order, page = _queue(client)
    assert order == default and not POINTS.search(page)


def test_a_queue_switched_to_uplift_whose_model_is_retired_goes_back_to_risk_order(client):
    admin = UserFactory(roles=[MARKETPLACE_ADMIN])
    version = _active_model(admin)
    cases = _open_cases()
    client.force_login(admin)
    client.post(SWITCH, {"order_by": QueueOrder.UPLIFT})
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelStatus.RETIRED)

    order, page = _queue(client)

    assert order == [case.pk for case in cases] and not POINTS.search(page)
    assert "no uplift model is active" in page


def test_staff_working_the_queue_in_risk_order_take_the_cases_as_the_workbench_lists_them(client):
    """Simulated staff (and anything else that works the queue in code) follow the list staff see:
    priority, then due date, then the case opened first, never the churn probability."""
    admin = UserFactory(roles=[MARKETPLACE_ADMIN])
    _active_model(admin)  # a model is active, but the kind stays in risk order
    riskiest, moderate, risky = _open_cases()
    later = _open_cases()
    # An urgent case goes first whatever its due date; a batch opened together shares a due date.
    Case.objects.filter(pk=later[2].pk).update(priority=Priority.HIGH)
    Case.objects.filter(pk__in=[riskiest.pk, moderate.pk, risky.pk]).update(due_at=riskiest.due_at)
    client.force_login(admin)

    listed, _ = _queue(client)
    worked = [case.pk for case in cases_in_queue_order(Case.objects.active().filter(kind=KIND), case_kind=KIND)]

    assert worked == listed
    assert worked == [later[2].pk, riskiest.pk, moderate.pk, risky.pk, later[0].pk, later[1].pk]
