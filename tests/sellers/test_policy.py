import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from sellers import services
from sellers.models import OnboardingPolicy, RiskTier

DEFAULT = {"high_min": 0, "high_max": 29, "mid_min": 30, "mid_max": 69, "low_min": 70, "low_max": 100}


@pytest.mark.django_db
def test_default_policy_uses_the_briefs_bands():
    policy = services.onboarding_policy_active()

    assert policy.bands() == {RiskTier.HIGH: [0, 29], RiskTier.MID: [30, 69], RiskTier.LOW: [70, 100]}
    assert [policy.tier_for(s) for s in (0, 29, 30, 69, 70, 100)] == ["high", "high", "mid", "mid", "low", "low"]


@pytest.mark.django_db
def test_admin_saves_new_bands_and_they_become_active(admin_user):
    policy = services.onboarding_policy_save(actor=admin_user, name="Stricter", bands={**DEFAULT, "mid_max": 79, "low_min": 80})

    assert services.onboarding_policy_active().pk == policy.pk
    assert OnboardingPolicy.objects.filter(is_active=True).count() == 1
    assert policy.tier_for(75) == RiskTier.MID


@pytest.mark.django_db
def test_overlapping_bands_are_refused_with_a_clear_error_and_nothing_saved(admin_user):
    before = OnboardingPolicy.objects.count()

    with pytest.raises(ValidationError) as error:
        services.onboarding_policy_save(actor=admin_user, name="Bad", bands={**DEFAULT, "mid_max": 75})

    assert error.value.message_dict["low_min"] == ["Overlap: scores 70-75 are in both the mid- and low-risk bands."]
    assert OnboardingPolicy.objects.count() == before


@pytest.mark.django_db
def test_gapped_bands_are_refused_with_a_clear_error_and_nothing_saved(admin_user):
    before = OnboardingPolicy.objects.count()

    with pytest.raises(ValidationError) as error:
        services.onboarding_policy_save(actor=admin_user, name="Bad", bands={**DEFAULT, "high_max": 24})

    assert error.value.message_dict["mid_min"] == ["Gap: scores 25-29 fall between the high- and mid-risk bands."]
    assert OnboardingPolicy.objects.count() == before


@pytest.mark.django_db
def test_bands_must_reach_0_and_100(admin_user):
    with pytest.raises(ValidationError) as error:
        services.onboarding_policy_save(actor=admin_user, name="Bad", bands={**DEFAULT, "high_min": 5, "low_max": 95})

    assert "must start at 0" in error.value.message_dict["high_min"][0]
    assert "must end at 100" in error.value.message_dict["low_max"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("role_fixture", ["cs_user", "support_user"])
def test_only_admins_change_bands(role_fixture, request):
    with pytest.raises(PermissionDenied):
        services.onboarding_policy_save(actor=request.getfixturevalue(role_fixture), name="Mine", bands=DEFAULT)


@pytest.mark.django_db
def test_policy_admin_form_shows_the_overlap_error_and_saves_nothing(client, admin_user):
    client.force_login(admin_user)
    before = OnboardingPolicy.objects.count()

    response = client.post("/admin/sellers/onboardingpolicy/add/", {"name": "Bad", "is_active": "on", **{**DEFAULT, "high_max": 35}})

    assert response.status_code == 200
    assert "Overlap: scores 30-35 are in both the high- and mid-risk bands." in response.content.decode()
    assert OnboardingPolicy.objects.count() == before


@pytest.mark.django_db
def test_policy_admin_is_forbidden_to_seller_support(client, support_user):
    client.force_login(support_user)

    response = client.post("/admin/sellers/onboardingpolicy/add/", {"name": "Mine", "is_active": "on", **DEFAULT})

    assert response.status_code == 403
    assert not OnboardingPolicy.objects.filter(name="Mine").exists()
