import csv
import io
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

from unittest import mock

import pytest
from django.utils import timezone

from buyers.factories import RetentionSettingsFactory
from retention.interventions import buyer_churn_cases_open
from retention.services import retention_recompute
from casework.models import Case, CaseKind
from core.models import OutboxMessage
from core.schedule import collect_beat_schedule
from dashboard.churn_review import churn_review, churn_review_send, week_of
from marketplace.generator.services import generate_marketplace
from retention.late_orders import late_order_outreach_run

pytestmark = pytest.mark.django_db
URL = "/admin/dashboard/churn-review/"


END = datetime(2026, 10, 1, 12, tzinfo=dt_timezone.utc)


@pytest.fixture
def demo_week():
    """The generated demo marketplace, with the nightly flags raised on the Wednesday of the review week
    (the clock is set to that day, so cases carry it too). Returns that week's Monday."""
    generate_marketplace(sellers=20, buyers=200, months=8, seed=3, end=END.date().isoformat(), progress=False)
    RetentionSettingsFactory(holdout_share=0.3)
    wednesday = END - timedelta(days=1)
    with mock.patch("django.utils.timezone.now", return_value=wednesday):
        retention_recompute(as_of=wednesday)
        buyer_churn_cases_open(as_of=wednesday)
        late_order_outreach_run(now=wednesday)
    return wednesday.date() - timedelta(days=wednesday.weekday())


def test_the_review_renders_from_demo_data_with_every_section(client, admin_user, demo_week):
    client.force_login(admin_user)

    page = client.get(URL, {"week": demo_week.isoformat()})

    body = page.content.decode()
    assert page.status_code == 200
    for section in ("cr-risk", "cr-cases", "cr-interventions", "cr-kpis"):
        assert f'id="{section}"' in body
    review = churn_review(week_start=demo_week)
    assert review.tables["risk"].rows, "the demo data flags someone in the week"
    assert review.summary["cases_opened"] == Case.objects.count() > 0
    assert review.tables["kpis"].rows and review.tables["interventions"].rows
    assert "@media print" in body


def test_the_page_names_plays_and_shows_kpis_in_their_unit(client, admin_user, demo_week):
    client.force_login(admin_user)

    page = client.get(URL, {"week": demo_week.isoformat()})

    body = page.content.decode()
    risk = body.split('id="cr-risk"')[1].split("</section>")[0]
    interventions = body.split('id="cr-interventions"')[1].split("</section>")[0]
    kpis = body.split('id="cr-kpis"')[1].split("</section>")[0]
    plays = {row[3] for row in churn_review(week_start=demo_week).tables["risk"].rows}
    assert plays and not any(code in risk + interventions for code in plays)
    assert all(f"<td>{CaseKind(code).label}</td>" in risk + interventions for code in plays)
    assert "Treated (case opened)" in risk or "Held out (no case)" in risk
    flagged = f"{demo_week + timedelta(days=2):%-d %b %Y}"
    assert f"<td>{flagged}</td>" in risk and f"{demo_week + timedelta(days=2):%Y-%m-%d}" not in risk
    assert "%</td>" in interventions and ".0</td>" not in interventions
    aov = kpis.split("<td>Average order value</td>")[1].split("</tr>")[0]
    assert aov.count("<td>$") >= 2, aov
    cancellations = kpis.split("<td>Cancellation rate</td>")[1].split("</tr>")[0]
    assert "%</td>" in cancellations and " pts</td>" in cancellations, cancellations


def test_each_section_downloads_as_csv(client, admin_user, demo_week):
    client.force_login(admin_user)

    for table in ("risk", "cases", "interventions", "kpis"):
        reply = client.get(f"{URL}{table}.csv", {"week": demo_week.isoformat()})
        rows = list(csv.reader(io.StringIO(reply.content.decode())))
        assert reply.status_code == 200 and rows[0][0] in ("subject", "team", "play", "kpi")


def test_a_bad_week_or_team_is_named_in_the_error(client, admin_user):
    client.force_login(admin_user)

    page = client.get(URL, {"week": "last tuesday", "team": "pirates"})
    csv_reply = client.get(f"{URL}risk.csv", {"week": "nope"})

    assert page.status_code == 400 and "week:" in page.content.decode() and "team:" in page.content.decode()
    assert csv_reply.status_code == 400 and b"week" in csv_reply.content


def test_the_review_is_for_staff_only(client):
    assert client.get(URL).status_code == 302


def test_each_team_gets_the_weekly_email_once_with_a_link_to_the_page(mailoutbox):
    monday = datetime(2026, 10, 5, 7, tzinfo=dt_timezone.utc)

    first = churn_review_send(now=monday)
    again = churn_review_send(now=monday + timedelta(minutes=5))

    messages = OutboxMessage.objects.filter(category="churn_review_digest")
    assert (first, again) == (3, 0)
    assert {m.to for m in messages} == {"cs@localhost", "seller-support@localhost", "admins@localhost"}
    assert all(m.exempt and "/admin/dashboard/churn-review/?week=2026-09-28" in m.body for m in messages)
    # Days as staff read them everywhere else: "5 Oct", not "05 Oct".
    assert {m.subject for m in messages} == {"Weekly churn review: week of 28 Sep 2026"}
    assert all(m.body.startswith("Weekly churn review, 28 Sep 2026 – 4 Oct 2026\n") for m in messages)


def test_the_review_email_is_scheduled_weekly_on_a_consumed_queue(settings):
    entry = collect_beat_schedule()["dashboard-weekly-churn-review"]

    assert entry["task"] == "dashboard.send_churn_review"
    assert settings.CELERY_TASK_ROUTES["dashboard.*"] == {"queue": "recompute"}


def test_the_review_week_is_the_monday_to_sunday_before_today():
    assert week_of(date(2026, 10, 7)) == (date(2026, 9, 28), date(2026, 10, 4))
