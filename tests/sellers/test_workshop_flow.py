"""Seller support seats artisans from a picker that shows capacity, finds them by autocomplete, and marks attendance."""

import pytest
from django.urls import reverse

from sellers.factories import SellerFactory, WorkshopSessionFactory
from sellers.models import AssignmentStatus, OnboardingStatus, WorkshopAssignment
from sellers.services import workshop_assign

pytestmark = pytest.mark.django_db


def test_adding_a_seat_finds_the_artisan_by_autocomplete_and_shows_free_seats(client, support_user):
    WorkshopSessionFactory(capacity=8, booked=2)
    WorkshopSessionFactory(capacity=2, booked=2)
    client.force_login(support_user)

    page = client.get(reverse("admin:sellers_workshopassignment_add")).content.decode()

    assert "admin-autocomplete" in page and 'name="seller"' in page
    assert "6 of 8 seats free" in page and "0 of 2 seats free" not in page


def test_the_seller_autocomplete_answers_seller_support(client, support_user):
    SellerFactory(name="Ines Pottery")
    client.force_login(support_user)

    response = client.get("/admin/autocomplete/", {"term": "Ines", "app_label": "sellers", "model_name": "workshopassignment",
                                                   "field_name": "seller"})

    assert response.status_code == 200 and "Ines Pottery" in response.content.decode()


def test_marking_attendance_passed_completes_onboarding(client, support_user):
    from django.utils import timezone

    seller = SellerFactory(onboarding_status=OnboardingStatus.WORKSHOP_PENDING, approved_at=timezone.now(), onboarded_at=None)
    session = WorkshopSessionFactory()
    seat = workshop_assign(session=session, seller=seller, actor=support_user)
    client.force_login(support_user)

    page = client.post(reverse("admin:sellers_workshopassignment_changelist"),
                       {"action": "mark_passed", "_selected_action": [seat.pk]}, follow=True).content.decode()

    seat.refresh_from_db()
    seller.refresh_from_db()
    assert seat.status == AssignmentStatus.ATTENDED and seller.onboarded_at is not None
    assert "Attendance recorded for 1 seat." in page


def test_the_session_list_links_to_its_seats(client, support_user):
    session = WorkshopSessionFactory()
    seat = workshop_assign(session=session, seller=SellerFactory(onboarding_status=OnboardingStatus.WORKSHOP_PENDING), actor=support_user)
    other = WorkshopSessionFactory()
    workshop_assign(session=other, seller=SellerFactory(onboarding_status=OnboardingStatus.WORKSHOP_PENDING), actor=support_user)
    client.force_login(support_user)

    listing = client.get(reverse("admin:sellers_workshopsession_changelist")).content.decode()
    url = reverse("admin:sellers_workshopassignment_changelist") + f"?session__id__exact={session.pk}"
    assert url.replace("&", "&amp;") in listing or url in listing

    seats = client.get(url).context["cl"].result_list
    assert [s.pk for s in seats] == [seat.pk]
    assert WorkshopAssignment.objects.count() == 2
