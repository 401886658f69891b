"""The OpenAPI schema describes the retention, loyalty and scoring responses, not a guess."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return schema["components"]["schemas"][name]
    return node


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/api/v1/buyers/{buyer_id}/retention/", {"buyer_id", "segment", "churn_probability", "top_artisan"}),
        ("/api/v1/loyalty/members/{buyer_id}/", {"buyer_id", "balance", "tier", "badges", "leaderboard"}),
        ("/api/v1/scoring/sellers/{external_id}/score/", {"seller", "score", "reasons", "model_version", "history"}),
    ],
)
def test_endpoint_documents_its_200_response(schema, path, fields):
    assert path in schema["paths"], f"{path} is missing from the schema"
    get = schema["paths"][path]["get"]
    assert "200" in get["responses"], f"{path} documents no 200 response"
    body = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in body or "properties" in body, f"{path}: 200 response has no schema"
    properties = _resolve(schema, body)["properties"]
    assert fields <= set(properties), f"{path}: missing {fields - set(properties)}"


def test_seller_score_method_fields_are_typed(schema):
    output = schema["components"]["schemas"]["SellerScoreApiOutput"]["properties"]
    assert output["history"]["type"] == "array"
    assert output["history"]["items"].get("$ref") or output["history"]["items"].get("properties")
    version = output["model_version"]
    assert version.get("$ref") or version.get("allOf") or version.get("oneOf") or version.get("properties")
