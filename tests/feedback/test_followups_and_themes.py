import random

import pytest
from django.core.exceptions import ValidationError

from buyers.factories import BuyerFactory
from casework.models import Case, CaseKind
from feedback.factories import ResponseFactory, ThemeFactory
from feedback.models import CodingOrigin, ResponseTheme, ThemeClassifier
from feedback.services import response_match
from feedback.themes import classifier_predict, classifier_train, response_themes_correct, responses_classify
from sellers.factories import SellerFactory
from tests.feedback.test_native_api import item

pytestmark = pytest.mark.django_db
URL = "/api/v1/feedback/responses/"


def test_detractor_opens_one_detractor_followup_case_per_buyer(client, survey, django_capture_on_commit_callbacks):
    buyer = BuyerFactory(external_id="B-1")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, item("r1", answers={"nps": 3, "comment": "Too slow"}), format="json")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, item("r2", answers={"nps": 1}), format="json")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, item("r3", answers={"nps": 10}), format="json")

    case = Case.objects.get()
    assert (case.kind, case.buyer, case.team) == (CaseKind.DETRACTOR_FOLLOWUP, buyer, "customer_success")
    assert case.evidence["nps"] == 3
    assert "NPS 3" in case.reason


def test_promoter_with_urgent_keyword_theme_opens_a_case(client, survey, urgent_theme, django_capture_on_commit_callbacks):
    BuyerFactory(external_id="B-1")

    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(URL, item(answers={"nps": 9, "comment": "Love it but the lid arrived cracked"}), format="json")

    assert ResponseTheme.objects.get(response_id=reply.data["id"]).origin == CodingOrigin.RULE
    case = Case.objects.get()
    assert urgent_theme.name in case.reason
    assert case.evidence["urgent_themes"] == [urgent_theme.name]


def test_unmatched_detractor_waits_for_staff_match_then_opens_case(client, survey, cs_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(URL, item(respondent={"email": "who@example.com"}, answers={"nps": 2}), format="json")
    assert not Case.objects.exists()
    buyer = BuyerFactory()
    from feedback.models import Response

    with django_capture_on_commit_callbacks(execute=True):
        response_match(response=Response.objects.get(pk=reply.data["id"]), buyer=buyer, actor=cs_user)

    assert Case.objects.get().buyer == buyer
    assert Response.objects.get().matched_by == cs_user


def test_keyword_rules_code_themes_and_flag_negative_text(client, survey, shipping_theme):
    BuyerFactory(external_id="B-1")

    reply = client.post(URL, item(answers={"comment": "Parcel was two weeks late, still waiting on the second mug"}), format="json")

    from feedback.models import Response

    response = Response.objects.get(pk=reply.data["id"])
    assert list(response.theme_codes.values_list("theme__slug", flat=True)) == ["shipping-delay"]
    assert response.sentiment < 0


SHIPPING = ["my order took forever to arrive", "package turned up weeks after the date", "parcel never showed up on time",
            "courier lost track of the box for ages", "delivery dragged on for a month"]
QUALITY = ["the glaze chipped on first wash", "stitching came apart quickly", "colours faded after one week",
           "the handle snapped off", "wood split along the grain"]
OTHER = ["lovely gift for my mother", "beautiful colours and pattern", "would buy again from this artisan",
         "great communication with the maker", "exactly as pictured"]


def _coded_responses(shipping, quality, n=36, seed=3):
    rng = random.Random(seed)
    for i in range(n):
        kind = i % 3
        text = rng.choice([SHIPPING, QUALITY, OTHER][kind]) + rng.choice(["", ".", "!", " (again)"])
        response = ResponseFactory(text=text)
        themes = [[shipping.pk], [quality.pk], []][kind]
        response_themes_correct(response=response, theme_ids=themes)


def test_classifier_learns_staff_codes_and_reports_heldout_precision_recall(shipping_theme):
    quality = ThemeFactory(slug="item-quality", name="Item quality", keywords="broken")
    _coded_responses(shipping_theme, quality)

    classifier = classifier_train()

    assert classifier.is_active
    metrics = classifier.metrics["themes"]
    assert set(metrics) == {"shipping-delay", "item-quality"}
    for slug in ("shipping-delay", "item-quality"):
        assert 0.0 <= metrics[slug]["precision"] <= 1.0 and 0.0 <= metrics[slug]["recall"] <= 1.0
        assert "keyword_recall" in metrics[slug]
    # The model catches shipping complaints that contain none of the theme's keywords.
    assert metrics["shipping-delay"]["recall"] > metrics["shipping-delay"]["keyword_recall"]
    probabilities = classifier_predict(params=classifier.parameters, texts=["package turned up weeks after the date"])
    assert probabilities[shipping_theme.pk][0] > 0.5 > probabilities[quality.pk][0]


def test_classifier_codes_new_responses_but_never_overrides_staff(shipping_theme):
    quality = ThemeFactory(slug="item-quality", name="Item quality")
    _coded_responses(shipping_theme, quality)
    classifier_train()
    fresh = ResponseFactory(text="the package turned up weeks after the date")

    added = responses_classify(response_ids=[fresh.pk])

    assert added >= 1
    assert ResponseTheme.objects.get(response=fresh, theme=shipping_theme).origin == CodingOrigin.MODEL


def test_staff_correction_replaces_codes_and_becomes_training_data(shipping_theme, cs_user):
    quality = ThemeFactory(slug="item-quality")
    response = ResponseFactory(text="slow but fine")
    ResponseTheme.objects.create(response=response, theme=shipping_theme, origin=CodingOrigin.RULE)

    response_themes_correct(response=response, theme_ids=[quality.pk], actor=cs_user)

    codes = list(response.theme_codes.values_list("theme__slug", "origin"))
    assert codes == [("item-quality", "staff")]
    response.refresh_from_db()
    assert response.staff_coded_at is not None


def test_training_needs_enough_coded_responses():
    with pytest.raises(ValidationError):
        classifier_train()
    assert not ThemeClassifier.objects.exists()


def test_seller_respondent_for_artisan_survey_is_matched_by_email(client, artisan_survey):
    seller = SellerFactory(email="potter@artisans.example")

    reply = client.post(URL, {"external_id": "a1", "survey": "artisan-quarterly",
                              "respondent": {"email": "potter@artisans.example"},
                              "answers": {"nps": 4, "comment": "score is confusing"}}, format="json")

    from feedback.models import Response

    response = Response.objects.get(pk=reply.data["id"])
    assert (response.seller, response.buyer, response.respondent_kind) == (seller, None, "seller")
    assert response.is_flagged


def test_rematch_links_responses_once_the_buyer_exists(client, survey):
    client.post(URL, item("late", respondent={"buyer_id": "B-LATE"}), format="json")
    client.post(URL, item("ghost", respondent={"buyer_id": "B-GHOST"}), format="json")
    buyer = BuyerFactory(external_id="B-LATE")

    from feedback.models import Response
    from feedback.services import responses_rematch

    matched = responses_rematch(response_ids=list(Response.objects.values_list("pk", flat=True)))

    assert matched == 1
    assert Response.objects.get(external_id="late").buyer == buyer
    assert Response.objects.get(external_id="ghost").match_status == "unmatched"
