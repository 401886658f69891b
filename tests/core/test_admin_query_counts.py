"""Every registered admin page runs a bounded number of queries, whatever the number of rows it shows.

One small demo marketplace is built for the module (committed, then flushed at the end). A
changelist showing 50 rows must not run more queries than the same list showing 5; every
changelist and change page stays under a fixed bound.
"""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

import config.urls  # noqa: F401 - registers every admin

MAX_QUERIES = 40


def _label(model):
    return f"{model._meta.app_label}.{model._meta.model_name}"


REGISTERED = sorted(admin.site._registry.items(), key=lambda item: _label(item[0]))
IDS = [_label(model) for model, _ in REGISTERED]


@pytest.fixture(scope="module")
def demo_data(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        try:
            call_command("setup_demo", "--sellers", "20", "--buyers", "150", "--months", "8", "--password", "x-pass",
                         stdout=open("/dev/null", "w"))  # noqa: SIM115
            get_user_model().objects.create_superuser("rootcheck", "root@kiln.example", "x-pass")
            _top_up()
            yield
        finally:
            # The data was committed: empty the test database again for the tests that follow.
            call_command("flush", interactive=False, verbosity=0)


def _top_up():
    """Rows a small demo does not make: enough of each that a 50-row page shows more than a 5-row one."""
    from datetime import timedelta

    from django.utils import timezone

    from buyers.factories import CampaignAudienceFactory
    from buyers.models import Buyer, InterventionAssignment, InterventionArm
    from casework.models import Case
    from sellers.factories import SellerFactory, WorkshopSessionFactory
    from sellers.models import OnboardingStatus
    from sellers.services import workshop_assign

    now = timezone.now()
    cases = list(Case.objects.filter(buyer__isnull=False)[:60])
    InterventionAssignment.objects.bulk_create([
        InterventionAssignment(kind="buyer_churn_risk", buyer=buyer, arm=InterventionArm.TREATED if i % 2 else InterventionArm.HOLDOUT,
                               flagged_at=now - timedelta(days=i + 1), window_ends_at=now + timedelta(days=30),
                               case=cases[i % len(cases)] if cases and i % 2 else None)
        for i, buyer in enumerate(Buyer.objects.order_by("pk")[:60])
    ])
    admin_user = get_user_model().objects.get(username="rootcheck")
    session = WorkshopSessionFactory(capacity=60)
    for _ in range(12):
        workshop_assign(session=session, seller=SellerFactory(onboarding_status=OnboardingStatus.WORKSHOP_PENDING), actor=admin_user)
    for _ in range(6):
        CampaignAudienceFactory()


@pytest.fixture
def root_client(client, demo_data, db):
    client.force_login(get_user_model().objects.get(username="rootcheck"))
    return client


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return len(captured.captured_queries)


@pytest.mark.parametrize("model,model_admin", REGISTERED, ids=IDS)
def test_changelist_queries_do_not_grow_with_rows_shown(root_client, model, model_admin, monkeypatch):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    monkeypatch.setattr(model_admin, "list_per_page", 5)
    few = _queries(root_client, url)
    monkeypatch.setattr(model_admin, "list_per_page", 50)
    many = _queries(root_client, url)

    assert many <= few, f"{_label(model)}: {few} queries for 5 rows, {many} for 50"
    assert many <= MAX_QUERIES


@pytest.mark.parametrize("model,model_admin", REGISTERED, ids=IDS)
def test_change_page_queries_are_bounded(root_client, model, model_admin, rf):
    request = rf.get("/")
    request.user = get_user_model().objects.get(username="rootcheck")
    # The row with the most history is the newest for most tables; the admin's own rows, for queue proxies.
    obj = model_admin.get_queryset(request).order_by("-pk").first()
    if obj is None:
        pytest.skip(f"the demo has no {_label(model)} row")
    try:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        pytest.skip("no change page")
    assert _queries(root_client, url) <= MAX_QUERIES


def test_the_demo_fills_most_admin_tables(demo_data, db):
    empty = [_label(model) for model, _ in REGISTERED if not model._default_manager.exists()]

    assert len(empty) <= len(REGISTERED) // 3, f"empty tables: {empty}"
