"""One auth policy and one error shape across every API family."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from buyers.factories import BuyerFactory
from integrations.factories import ApiKeyFactory
from loyalty.models import EarningRule, Tier

pytestmark = pytest.mark.django_db

# One read path per family; ids need not exist, credentials are checked first.
FAMILY_PATHS = [
    "/api/v1/loyalty/leaderboard/",
    "/api/v1/loyalty/members/1/",
    "/api/v1/buyers/1/retention/",
    "/api/v1/buyers/audiences/",
    "/api/v1/feedback/reports/nps/",
    "/api/v1/scoring/sellers/S-1/score/",
    "/api/v1/integrations/key/",
]
RULE = {"name": "Double points", "kind": "spend", "points": "2.00"}
TIERS = {"tiers": [{"code": "silver", "name": "Silver", "threshold": "100", "multiplier": "1.1"}]}


def key_client(*scopes: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory(scopes=list(scopes)).plain_key}")
    return client


def assert_error_shape(body: dict, code: str) -> None:
    assert set(body) >= {"code", "detail", "errors"}
    assert body["code"] == code


@pytest.mark.parametrize("path", FAMILY_PATHS)
def test_missing_credentials_get_401_with_www_authenticate_in_every_family(path):
    response = APIClient().get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert_error_shape(response.json(), "not_authenticated")


@pytest.mark.parametrize("path", FAMILY_PATHS)
def test_an_invalid_key_gets_401_with_www_authenticate_in_every_family(path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key nope.not-a-key")

    response = client.get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert_error_shape(response.json(), "authentication_failed")


@pytest.mark.parametrize("path", FAMILY_PATHS[:-1])
def test_a_key_without_the_scope_gets_403_in_the_shared_shape(path):
    response = key_client("nothing:useful").get(path)

    assert response.status_code == 403
    assert_error_shape(response.json(), "permission_denied")


@pytest.mark.parametrize("path", [*FAMILY_PATHS, "/api/v1/marketplace/sellers/", "/api/v1/feedback/webhooks/any/"])
def test_trace_gets_405_whoever_asks(path):
    response = APIClient().generic("TRACE", path)

    assert response.status_code == 405
    assert_error_shape(response.json(), "method_not_allowed")


def test_an_unsupported_method_on_a_known_path_gets_405_not_401():
    assert APIClient().delete("/api/v1/loyalty/leaderboard/").status_code == 405


def test_a_signed_in_non_staff_user_gets_403(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("shopper", is_staff=False))

    response = client.get("/api/v1/loyalty/leaderboard/")

    assert response.status_code == 403
    assert_error_shape(response.json(), "permission_denied")


def test_a_key_with_explicit_loyalty_admin_scope_creates_a_rule():
    response = key_client("loyalty:admin").post("/api/v1/loyalty/rules/", RULE, format="json")

    assert response.status_code == 201
    assert EarningRule.objects.filter(name="Double points").exists()


def test_a_key_with_explicit_loyalty_admin_scope_configures_tiers():
    response = key_client("loyalty:admin").put("/api/v1/loyalty/tiers/", TIERS, format="json")

    assert response.status_code == 200
    assert Tier.objects.get(code="silver").threshold == Decimal(100)


@pytest.mark.parametrize("scopes", [["*"], ["loyalty:write"], ["loyalty:read", "loyalty:write"]])
def test_keys_without_explicit_loyalty_admin_get_403_for_configuration_and_nothing_is_stored(scopes):
    client = key_client(*scopes)

    rule = client.post("/api/v1/loyalty/rules/", RULE, format="json")
    tiers = client.put("/api/v1/loyalty/tiers/", TIERS, format="json")

    assert rule.status_code == tiers.status_code == 403
    assert "loyalty:admin" in rule.json()["detail"]
    assert not EarningRule.objects.exists() and not Tier.objects.exists()


def test_a_marketplace_admin_session_configures_loyalty(admin_client):
    assert admin_client.post("/api/v1/loyalty/rules/", RULE, format="json").status_code == 201
    assert admin_client.put("/api/v1/loyalty/tiers/", TIERS, format="json").status_code == 200


def test_a_staff_session_without_the_admin_role_gets_403_for_configuration(cs_client):
    response = cs_client.post("/api/v1/loyalty/rules/", RULE, format="json")

    assert response.status_code == 403
    assert_error_shape(response.json(), "permission_denied")
    assert not EarningRule.objects.exists()


def test_a_retention_read_key_reads_profiles_but_cannot_define_audiences():
    buyer = BuyerFactory()
    client = key_client("retention:read", "*")

    assert client.get(f"/api/v1/buyers/{buyer.pk}/retention/").status_code == 200
    response = client.post("/api/v1/buyers/audiences/", {"name": "Lapsing"}, format="json")
    assert response.status_code == 403
    assert "staff session" in response.json()["detail"]


def test_a_huge_power_user_window_is_a_400_naming_days():
    response = key_client("loyalty:read").get("/api/v1/loyalty/power-users/", {"days": 10**30})

    assert response.status_code == 400
    assert "days" in response.json()["errors"]


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "2024-13", "soon"])
def test_a_leaderboard_month_out_of_range_is_a_400_naming_month(month):
    response = key_client("loyalty:read").get("/api/v1/loyalty/leaderboard/", {"month": month})

    assert response.status_code == 400
    assert "month" in response.json()["errors"]


def test_a_nul_in_a_query_parameter_is_a_400_naming_it():
    response = key_client("loyalty:read").get("/api/v1/loyalty/leaderboard/", {"category": "pottery\x00"})

    assert response.status_code == 400
    assert "category" in response.json()["errors"]


@pytest.mark.parametrize(
    "path", ["/api/v1/scoring/sellers/S%00-1/score/", "/api/v1/loyalty/members/99999999999999999999999/"]
)
def test_a_path_segment_no_object_can_have_is_a_404(path):
    response = key_client("*", "loyalty:read").get(path)

    assert response.status_code == 404
    assert_error_shape(response.json(), "not_found")


def test_an_api_path_that_matches_no_route_answers_404_in_the_shared_shape():
    response = key_client("loyalty:read").get("/api/v1/loyalty/members/not-a-number/")

    assert response.status_code == 404
    assert_error_shape(response.json(), "not_found")


@pytest.mark.parametrize("path", ["/api/", "/api/v1/"])
@pytest.mark.parametrize("debug", [False, True])
def test_the_api_roots_point_an_integrator_to_the_endpoint_list(client, settings, path, debug):
    settings.DEBUG = debug  # the demo runs with DEBUG, where Django would show its own 404 page
    response = client.get(path)

    assert response.status_code == 404
    assert_error_shape(response.json(), "not_found")
    assert "/api/docs/" in response.json()["detail"] and "/api/schema/" in response.json()["detail"]


def test_a_session_cookie_with_a_nul_is_no_session_and_gets_401(client):
    client.cookies["sessionid"] = "abcdefgh\x00ijklmnop"

    response = client.get("/api/v1/loyalty/leaderboard/")

    assert response.status_code == 401


def test_an_api_key_with_a_nul_gets_401():
    response = APIClient().get("/api/v1/loyalty/leaderboard/", HTTP_AUTHORIZATION="Api-Key abc.d\x00ef")

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key."
