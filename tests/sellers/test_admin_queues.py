from datetime import timedelta

import pytest
from django.utils import timezone

from casework.models import Case, CaseKind, Team
from casework.services import case_open
from marketplace.factories import OrderFactory
from sellers.factories import SellerFactory
from sellers.models import OnboardingStatus

EVIDENCE = {"score": 22, "reasons": [{"text": "late shipments 18% of orders (category average 6%)", "contribution": -14}], "model_version": "seller_score/global v3"}


def _cases(n, kind=CaseKind.ONBOARDING_REVIEW):
    for _ in range(n):
        case_open(kind=kind, seller=SellerFactory(), reason="Score 22", evidence=EVIDENCE)


@pytest.mark.django_db
def test_queue_shows_score_reasons_sla_and_assignee(client, cs_user):
    _cases(2)
    client.force_login(cs_user)

    response = client.get("/admin/sellers/onboardingqueuecase/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "late shipments 18% of orders (category average 6%)" in page and "-14" in page
    assert "47h left" in page or "48h left" in page
    assert "Onboarding KPIs" in page


@pytest.mark.django_db
def test_queue_lists_no_zero_point_reason_and_writes_every_empty_cell_with_one_dash(client, cs_user):
    routed = {"score": None, "reasons": [
        {"text": "no sales history yet and no validated new-artisan model: routed by the onboarding policy", "contribution": 0},
    ]}
    case_open(kind=CaseKind.ONBOARDING_REVIEW, seller=SellerFactory(), reason="Not scored yet", evidence=routed)
    case_open(kind=CaseKind.ONBOARDING_REVIEW, seller=SellerFactory(), reason="No evidence", evidence={})
    client.force_login(cs_user)

    page = client.get("/admin/sellers/onboardingqueuecase/").content.decode()

    assert "no sales history yet and no validated new-artisan model: routed by the onboarding policy" in page
    assert ">+0<" not in page
    assert page.count('<td class="field-score">—</td>') == 2 and '<td class="field-score">-</td>' not in page
    assert '<td class="field-top_reasons">—</td>' in page and '<td class="field-assignee_short">—</td>' in page


@pytest.mark.django_db
def test_queue_page_query_count_does_not_grow_with_cases(client, admin_user, django_assert_max_num_queries):
    client.force_login(admin_user)
    _cases(3)
    with django_assert_max_num_queries(30) as small:
        client.get("/admin/sellers/onboardingqueuecase/")
    _cases(60, kind=CaseKind.ONBOARDING_CALL)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get("/admin/sellers/onboardingqueuecase/")
    assert response.status_code == 200


@pytest.mark.django_db
def test_seller_support_does_not_see_customer_success_reviews(client, support_user):
    _cases(1, kind=CaseKind.ONBOARDING_REVIEW)
    _cases(1, kind=CaseKind.ONBOARDING_CALL)
    client.force_login(support_user)

    response = client.get("/admin/sellers/onboardingqueuecase/")

    assert list(response.context["cl"].result_list.values_list("team", flat=True)) == [Team.SELLER_SUPPORT]


@pytest.mark.django_db
def test_bulk_approve_from_the_queue_by_customer_success(client, cs_user):
    sellers = [SellerFactory(onboarding_status=OnboardingStatus.MANUAL_REVIEW, approved_at=None) for _ in range(2)]
    cases = [case_open(kind=CaseKind.ONBOARDING_REVIEW, seller=s, reason="Score 10", evidence=EVIDENCE)[0] for s in sellers]
    client.force_login(cs_user)

    client.post("/admin/sellers/onboardingqueuecase/", {"action": "approve_reviews", "_selected_action": [c.pk for c in cases]})

    assert Case.objects.active().filter(kind=CaseKind.WORKSHOP_ASSIGNMENT).count() == 2
    assert {s.onboarding_status for s in type(sellers[0]).objects.filter(pk__in=[s.pk for s in sellers])} == {OnboardingStatus.WORKSHOP_PENDING}


@pytest.mark.django_db
def test_kpis_average_median_throughput_and_time_to_first_sale():
    from sellers.selectors import onboarding_kpis

    now = timezone.now()
    for days in (2, 4, 12):
        seller = SellerFactory(applied_at=now - timedelta(days=20), approved_at=now - timedelta(days=20 - days + 1),
                               onboarded_at=now - timedelta(days=20 - days))
        OrderFactory(seller=seller, placed_at=seller.onboarded_at + timedelta(days=days))
    SellerFactory(applied_at=now - timedelta(days=9), onboarded_at=now - timedelta(days=8))

    kpis = onboarding_kpis(now=now)

    assert kpis["onboarding_time"] == {"count": 4, "average_days": 4.8, "median_days": 3.0}
    assert kpis["time_to_first_sale"] == {"count": 3, "average_days": 6.0, "median_days": 4.0, "without_sale_yet": 1}
    assert sum(row["onboarded"] for row in kpis["throughput_per_week"]) == 4


@pytest.mark.django_db
def test_weekly_throughput_names_each_week_by_its_first_day(client, cs_user):
    monday = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=timezone.now().weekday() + 14)
    SellerFactory(applied_at=monday - timedelta(days=10), onboarded_at=monday + timedelta(days=1))
    client.force_login(cs_user)

    page = client.get("/admin/sellers/onboardingqueuecase/").content.decode()

    assert f"week of {monday.day} {monday:%b %Y}: 1" in page
    assert f"{monday:%Y-%m-%d}" not in page
