"""Django's own date rendering (admin lists, read-only fields, the date filter) and the names Kiln gives objects
(change-page titles and breadcrumbs) read dates as core.formatting writes them."""

import re
from datetime import date, datetime, timezone as dt_timezone

import pytest
from django.template import Context, Template
from django.urls import reverse

from buyers.models import LifetimeFit
from casework.factories import CaseFactory
from core import formatting
from dashboard.models import ChartSnapshot, KpiSnapshot
from feedback.factories import FeedbackSourceFactory
from feedback.models import SyncRun, ThemeClassifier
from loyalty.factories import EarnLotFactory
from marketplace.factories import EngagementEventFactory
from scoring.models import ModelVersion, ScoreRun
from sellers.factories import WorkshopFactory
from sellers.models import WorkshopSession

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 12, 3, 14, 41, tzinfo=dt_timezone.utc)


def _page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_case_page_shows_its_due_date_as_the_back_office_writes_dates(client, cs_user):
    case = CaseFactory(due_at=MOMENT)

    page = _page(client, cs_user, reverse("admin:casework_case_change", args=[case.pk]))

    assert "3 Dec 2026 14:41" in page
    assert "Dec. 3, 2026" not in page and "p.m." not in page


def test_points_list_shows_created_and_expiry_dates_as_the_back_office_writes_them(client, cs_user):
    EarnLotFactory(created_at=MOMENT, expires_at=datetime(2027, 1, 5, 9, 5, tzinfo=dt_timezone.utc))

    page = _page(client, cs_user, reverse("admin:loyalty_pointsentry_changelist"))

    assert "3 Dec 2026 14:41" in page and "5 Jan 2027 09:05" in page
    assert "Dec. 3, 2026" not in page and "Jan. 5, 2027" not in page


def test_the_date_filter_without_a_format_matches_core_formatting():
    rendered = Template("{{ moment|date }}|{{ moment|date:'DATETIME_FORMAT' }}|{{ day|date }}|{{ moment|time }}").render(
        Context({"moment": MOMENT, "day": date(2026, 12, 3)})
    )

    assert rendered == f"{formatting.day(MOMENT)}|{formatting.day_and_time(MOMENT)}|3 Dec 2026|14:41"


def test_admin_date_and_time_inputs_still_take_iso_dates(client, support_user):
    workshop = WorkshopFactory(topic="Shipping on time")
    client.force_login(support_user)

    response = client.post(reverse("admin:sellers_workshopsession_add"), {
        "workshop": workshop.pk, "starts_at_0": "2026-12-03", "starts_at_1": "14:41", "format": "virtual",
        "location": "https://meet.example/kiln", "capacity": 10,
        "assignments-TOTAL_FORMS": 0, "assignments-INITIAL_FORMS": 0,
    })

    assert response.status_code == 302, response.content.decode()
    assert WorkshopSession.objects.get(workshop=workshop).starts_at == MOMENT
    assert "3 Dec 2026 14:41" in _page(client, support_user, reverse("admin:sellers_workshopsession_changelist"))


def test_iso_dates_in_a_stored_text_read_as_days_while_codes_and_timestamps_stay():
    assert formatting.dates_as_days("Override until 2026-12-31: VIP") == "Override until 31 Dec 2026: VIP"
    assert formatting.dates_as_days("Order O-2026-12-03 returned") == "Order O-2026-12-03 returned"
    assert formatting.dates_as_days("Seen 2026-12-03T14:07") == "Seen 2026-12-03T14:07"
    assert formatting.dates_as_days("Not a date: 2026-13-40") == "Not a date: 2026-13-40"


def _title_and_breadcrumb(client, user, url) -> tuple[str, str]:
    """A change page's subtitle (the object's name) and the last step of its breadcrumb."""
    page = _page(client, user, url)
    title = re.search(r"<h2>(.*?)</h2>", page).group(1)
    breadcrumb = re.search(r'<div class="breadcrumbs">.*&rsaquo;\s*(.*?)\s*</div>', page, re.S).group(1)
    return title, breadcrumb


def test_snapshot_run_event_and_fit_pages_are_titled_with_readable_dates(client, admin_user, cs_user):
    snapshot = KpiSnapshot.objects.create(as_of=date(2026, 12, 3), kpi="return_rate", group_by="category", group="jewelry")
    run = ScoreRun.objects.create(as_of=MOMENT, status="done")
    event = EngagementEventFactory(kind="follow_artisan", occurred_at=MOMENT)
    fit = LifetimeFit.objects.create(kind="bgnbd", status="active", model="bgnbd", observation_end=MOMENT)
    LifetimeFit.objects.filter(pk=fit.pk).update(created_at=MOMENT)  # auto_now_add ignores a given value

    for user, url, shown in (
        (admin_user, reverse("admin:dashboard_kpisnapshot_change", args=[snapshot.pk]),
         "Return rate (category jewelry), 30 days to 3 Dec 2026"),
        (admin_user, reverse("admin:scoring_scorerun_change", args=[run.pk]), f"Score run #{run.pk} as of 3 Dec 2026 14:41 (done)"),
        (admin_user, reverse("admin:marketplace_engagementevent_change", args=[event.pk]), "Artisan followed on 3 Dec 2026 14:41"),
        (cs_user, reverse("admin:buyers_lifetimefit_change", args=[fit.pk]),
         "Purchase count (BG/NBD family) fit of 3 Dec 2026 14:41 (active)"),
    ):
        assert _title_and_breadcrumb(client, user, url) == (shown, shown)


def test_chart_classifier_and_sync_run_names_read_dates_as_days():
    source = FeedbackSourceFactory(slug="typeform")

    assert str(ChartSnapshot(chart="nps_by_month", as_of=date(2026, 12, 3), data={})) == "nps_by_month as of 3 Dec 2026"
    assert str(ThemeClassifier(trained_at=MOMENT)) == "Theme classifier trained 3 Dec 2026 14:41"
    assert str(SyncRun(source=source, kind="pull", status="failed", started_at=MOMENT)) == (
        "typeform: scheduled pull on 3 Dec 2026 14:41 (failed)"
    )


def test_model_card_and_fit_page_show_their_windows_as_days(client, cs_user, support_user):
    version = ModelVersion.objects.create(
        kind="seller_health", version=1, window_start=datetime(2025, 12, 1, tzinfo=dt_timezone.utc), window_end=MOMENT,
        seed=0, features=[], metrics={"n_train": 300, "n": 100}, baseline_metrics={}, artifact=b"", artifact_sha256="0" * 64,
    )
    fit = LifetimeFit.objects.create(kind="bgnbd", status="active", model="bgnbd", observation_end=MOMENT, evaluation={
        "calibration_end": "2026-09-10", "observation_end": "2026-12-03", "holdout_weeks": 12, "n_buyers": 40, "n_regular": 9,
        "chosen": "bgnbd", "models": {"bgnbd": {"label": "BG/NBD", "rmse": 0.5}},
    })

    card = _page(client, support_user, reverse("admin:scoring_modelversion_change", args=[version.pk]))
    fit_page = _page(client, cs_user, reverse("admin:buyers_lifetimefit_change", args=[fit.pk]))

    assert "<td>1 Dec 2025 to 3 Dec 2026</td>" in card and "2025-12-01" not in card
    assert "Calibration until 10 Sep 2026, holdout until 3 Dec 2026 (12 weeks)" in fit_page
    assert "2026-09-10" not in fit_page
