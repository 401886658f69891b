"""KPI alerts are staff mail: the outbound policy classifies them as exempt operational messages."""

import pytest

from core.messaging import contact_unsubscribe
from core.models import OutboxMessage, OutboxStatus
from dashboard.models import Condition
from dashboard.tasks import evaluate_alerts_task
from tests.dashboard.test_alerts import OCT_31, only, second_return_for_s1

pytestmark = pytest.mark.django_db


def test_a_kpi_alert_reaches_the_team_inbox_as_exempt_mail_even_if_that_inbox_unsubscribed(market):
    second_return_for_s1(market)
    only("return_rate", Condition.ABOVE, "5")
    contact_unsubscribe(address="seller-support@localhost")

    evaluate_alerts_task(as_of=OCT_31.isoformat())

    message = OutboxMessage.objects.get(category="kpi_alert")
    assert message.exempt and message.topic == "staff"
    assert message.status != OutboxStatus.SUPPRESSED and "unsubscribe" not in message.body.lower()
