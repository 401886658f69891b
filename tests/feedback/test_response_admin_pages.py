"""What staff meet on the feedback response pages."""

import pytest
from django.test import Client
from django.urls import reverse

from buyers.factories import BuyerFactory
from core.factories import UserFactory
from feedback.factories import ResponseFactory, ThemeFactory
from feedback.models import CodingOrigin, ResponseTheme
from marketplace.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _staff(user) -> Client:
    staff = Client()
    staff.force_login(user)
    return staff


@pytest.mark.parametrize("who", ["cs_user", "support_user", "admin_user"])
def test_dashboard_theme_link_lists_that_themes_responses(request, survey, who):
    theme, other = ThemeFactory(), ThemeFactory()
    coded = ResponseFactory(source__survey=survey)
    ResponseTheme.objects.create(response=coded, theme=theme, origin=CodingOrigin.RULE)
    ResponseTheme.objects.create(response=ResponseFactory(source__survey=survey), theme=other, origin=CodingOrigin.RULE)

    page = _staff(request.getfixturevalue(who)).get(
        reverse("admin:feedback_response_changelist"), {"theme_codes__theme__id__exact": theme.pk}
    )

    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [coded]


@pytest.mark.parametrize("who", ["cs_user", "support_user"])
def test_source_is_text_for_staff_who_may_not_open_sources(request, survey, who):
    response = ResponseFactory(source__survey=survey, source__name="Storefront widget")

    body = _staff(request.getfixturevalue(who)).get(reverse("admin:feedback_response_change", args=[response.pk])).content.decode()

    assert "Storefront widget" in body
    assert reverse("admin:feedback_feedbacksource_change", args=[response.source_id]) not in body


def test_source_links_for_admins_who_may_open_it(admin_user, survey):
    response = ResponseFactory(source__survey=survey)

    body = _staff(admin_user).get(reverse("admin:feedback_response_change", args=[response.pk])).content.decode()

    assert reverse("admin:feedback_feedbacksource_change", args=[response.source_id]) in body


def test_api_key_form_offers_staff_to_pick_without_the_user_lookup(admin_user):
    UserFactory(username="storefront-owner")

    body = _staff(admin_user).get(reverse("admin:integrations_apikey_add")).content.decode()

    assert "_to_field=id" not in body
    assert '<select name="owner"' in body
    assert "storefront-owner" in body


def test_staff_coding_a_theme_is_recorded_as_theirs_now(cs_user, admin_user, survey):
    response, theme = ResponseFactory(source__survey=survey), ThemeFactory()
    staff = _staff(cs_user)

    form = staff.get(reverse("admin:feedback_responsetheme_add")).content.decode()
    saved = staff.post(reverse("admin:feedback_responsetheme_add"), {
        "response": response.pk, "theme": theme.pk, "origin": CodingOrigin.MODEL, "coded_by": admin_user.pk,
        "created_at_0": "2020-01-01", "created_at_1": "00:00:00", "confidence": "0.1",
    })

    assert 'name="coded_by"' not in form and 'name="origin"' not in form and 'name="created_at_0"' not in form
    assert saved.status_code == 302
    code = ResponseTheme.objects.get()
    assert (code.coded_by, code.origin, code.confidence) == (cs_user, CodingOrigin.STAFF, 1.0)
    assert code.created_at.year > 2020


def test_pick_the_buyer_prompt_only_while_unmatched(cs_user, survey):
    staff = _staff(cs_user)
    unmatched = ResponseFactory(source__survey=survey)
    matched = ResponseFactory(source__survey=survey, buyer=BuyerFactory())

    unmatched_body = staff.get(reverse("admin:feedback_response_change", args=[unmatched.pk])).content.decode()
    matched_body = staff.get(reverse("admin:feedback_response_change", args=[matched.pk])).content.decode()

    assert "Unmatched: pick the buyer" in unmatched_body
    assert "Unmatched: pick the buyer" not in matched_body


def test_identity_is_labelled_fields_with_links(cs_user, survey):
    order = OrderFactory(external_id="ORD-77")
    response = ResponseFactory(source__survey=survey, identity={"order_id": "ORD-77", "email": "who@example.com"})

    body = _staff(cs_user).get(reverse("admin:feedback_response_change", args=[response.pk])).content.decode()

    assert '{"order_id"' not in body and "{&quot;order_id&quot;" not in body
    assert f'Order: <a href="{reverse("admin:marketplace_order_change", args=[order.pk])}">ORD-77</a>' in body
    assert "Email: who@example.com" in body


def test_sentiment_is_rounded_and_worded_in_the_list(cs_user, survey):
    ResponseFactory(source__survey=survey, sentiment=0.7666666)

    body = _staff(cs_user).get(reverse("admin:feedback_response_changelist")).content.decode()

    assert "0.77 (positive)" in body
    assert "0.7666" not in body
