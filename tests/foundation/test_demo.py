"""The demo configuration fills loyalty, feedback, workshops and onboarding, once."""

import pytest

from casework.models import Case
from core.demo import demo_configuration_create, demo_onboarding_route, demo_workshop_seat
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
