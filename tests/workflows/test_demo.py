"""The demo configuration fills loyalty, feedback, workshops and onboarding, once."""

import pytest

from casework.models import Case
from workflows.demo import demo_configuration_create, demo_onboarding_route, demo_workshop_seat
from feedback.models import Response, ResponseTheme, Survey, Theme
from loyalty.models import Badge, EarningRule, Reward, RuleKind, Tier
from marketplace.generator.services import generate_marketplace
from sellers.models import OnboardingDecision, OnboardingStatus, Seller, Workshop, WorkshopSession

pytestmark = pytest.mark.django_db


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (Tier, EarningRule, Badge, Reward, Survey, Theme, Response, Workshop, WorkshopSession, OnboardingDecision)
    }


def test_demo_configuration_fills_every_area_once(django_capture_on_commit_callbacks):
    generate_marketplace(sellers=20, buyers=200, months=8, seed=3, end="2026-10-01", progress=False)
    applied = Seller.objects.filter(onboarding_status=OnboardingStatus.APPLIED).count()

    with django_capture_on_commit_callbacks(execute=True):
        lines = demo_configuration_create(seed=3)
    assert [line.split(":")[0] for line in lines] == ["loyalty", "feedback", "workshops"]

    assert list(Tier.objects.order_by("rank").values_list("code", flat=True)) == ["clay", "glaze", "kiln"]
    assert Tier.objects.get(code="kiln").multiplier > Tier.objects.get(code="clay").multiplier
    kinds = set(EarningRule.objects.values_list("kind", flat=True))
    assert {RuleKind.SPEND, RuleKind.REVIEW, RuleKind.STORY_SHARE, RuleKind.FOLLOW_ARTISAN,
            RuleKind.EVENT_ATTENDANCE, RuleKind.REPEAT_PURCHASE, RuleKind.PROMOTION} <= kinds
    assert EarningRule.objects.exclude(kind__in=[RuleKind.SPEND, RuleKind.PROMOTION]).filter(cap_points__isnull=True).count() == 0
    assert Badge.objects.count() == 4
    assert Reward.objects.count() == 3

    responses = Response.objects.all()
    assert responses.count() > 100
    assert not responses.filter(nps__isnull=True).exists()
    assert responses.filter(order__isnull=False, seller__isnull=False).count() == responses.count()
    detractor_cases = Case.objects.filter(kind="detractor_followup").count()
    assert detractor_cases > 0 or ResponseTheme.objects.exists()
    assert ResponseTheme.objects.exists()
    # Tone follows the artisan's synthetic quality.
    good = responses.filter(seller__synthetic_quality__gte=0.7)
    poor = responses.filter(seller__synthetic_quality__lt=0.45)
    if good.exists() and poor.exists():
        mean = lambda qs: sum(qs.values_list("nps", flat=True)) / qs.count()  # noqa: E731
        assert mean(good) > mean(poor)

    assert Workshop.objects.count() == 2
    for workshop in Workshop.objects.all():
        assert 2 <= workshop.sessions.count() <= 3

    # Eight months are too short to train a model; with none active every score is a neutral 50,
    # so routing still runs the real path (score, policy band, decision, case).
    routed = demo_onboarding_route()
    assert routed[0].startswith("onboarding:")
    assert not Seller.objects.filter(onboarding_status=OnboardingStatus.APPLIED).exists()
    assert OnboardingDecision.objects.count() >= applied > 0
    demo_workshop_seat()

    before = _counts()
    with django_capture_on_commit_callbacks(execute=True):
        demo_configuration_create(seed=3)
    demo_onboarding_route()
    demo_workshop_seat()
    assert _counts() == before


def _setup_demo(*args):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("setup_demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_tiny_demo_builds_skipping_models_that_cannot_train_in_one_line_each(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)

    output = _setup_demo("--sellers", "10", "--buyers", "60", "--months", "12")

    assert "Traceback" not in output and "Demo ready" in output
    assert "No hostname was supplied" not in output and "succeeded in" not in output
    skipped = [line for line in output.splitlines() if "skipped (" in line]
    assert all(line.count("\n") == 0 for line in skipped)
    assert output.count("password: ") == 3


@pytest.mark.django_db(transaction=True)
def test_running_the_demo_again_keeps_admin_edits_models_cases_and_passwords(monkeypatch):
    from django.contrib.auth import get_user_model

    from scoring.models import ModelVersion

    monkeypatch.setenv("DEMO_PASSWORD", "first-pass")
    _setup_demo("--sellers", "10", "--buyers", "60")
    Tier.objects.filter(code="glaze").update(threshold=333)
    Badge.objects.filter(code="storyteller").update(threshold=7)
    state = (ModelVersion.objects.count(), Case.objects.count(), Case.objects.active().count())
    monkeypatch.delenv("DEMO_PASSWORD")

    output = _setup_demo("--sellers", "10", "--buyers", "60")

    assert "already built" in output and "setup_demo --reset" in output and "DEMO_PASSWORD" in output
    assert "password: " not in output
    assert Tier.objects.get(code="glaze").threshold == 333 and Badge.objects.get(code="storyteller").threshold == 7
    assert (ModelVersion.objects.count(), Case.objects.count(), Case.objects.active().count()) == state
    assert get_user_model().objects.get(username="admin").check_password("first-pass")


@pytest.mark.django_db(transaction=True)
def test_demo_reset_rebuilds_from_scratch(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "pass-one")
    _setup_demo("--sellers", "10", "--buyers", "60")
    Tier.objects.filter(code="glaze").update(threshold=333)

    output = _setup_demo("--reset", "--sellers", "10", "--buyers", "60")

    assert "Emptied the database" in output and "Demo ready" in output
    assert Tier.objects.get(code="glaze").threshold == 250
