"""No input produces a 500: the feedback API fuzzed from its own OpenAPI schema, and the webhook
parsers fuzzed with correctly signed arbitrary JSON (the signature would stop schema fuzzing early).

Kept short (FUZZ_EXAMPLES per operation, default 8); run deeper with e.g. FUZZ_EXAMPLES=200.
"""

import json
import os

import pytest

schemathesis = pytest.importorskip("schemathesis")

from django.core.signals import request_finished, request_started  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from feedback.signatures import delighted_signature, typeform_signature  # noqa: E402
from integrations.factories import ApiKeyFactory  # noqa: E402
from tests.feedback.conftest import load_payload  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application()).include(
    path_regex=r"^/api/v1/feedback/"
)


@pytest.fixture(autouse=True)
def keep_test_connection():
    """Schemathesis calls the WSGI app directly, whose request signals would close the test's
    connection mid-transaction on PostgreSQL; Django's own test client disconnects them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_key(db):
    return ApiKeyFactory(scopes=["*"])


@pytest.mark.slow
@schema.parametrize()
@FUZZ_SETTINGS
def test_no_schema_generated_input_gives_a_server_error(case, fuzz_key, survey, typeform_source):
    response = case.call(headers={"Authorization": f"Api-Key {fuzz_key.plain_key}"})

    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-20, 20) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def _mutations(base: dict):
    """The documented payload with one part replaced by arbitrary JSON."""
    return st.tuples(st.sampled_from(_paths(base)), json_values).map(lambda pv: _replace(base, *pv))


def _paths(value, prefix=()):
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):
            found += _paths(child, prefix + (index,))
    return found


def _replace(base, path, new):
    if not path:
        return new
    copy = json.loads(json.dumps(base))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


@pytest.mark.slow
@given(payload=_mutations(load_payload("typeform_form_response.json")))
@FUZZ_SETTINGS
def test_signed_mutated_typeform_payloads_never_give_a_server_error(payload, typeform_source):
    body = json.dumps(payload).encode()

    reply = APIClient().generic("POST", f"/api/v1/feedback/webhooks/{typeform_source.slug}/", body,
                                content_type="application/json",
                                HTTP_TYPEFORM_SIGNATURE=typeform_signature(secret=typeform_source.secret, body=body))

    assert reply.status_code in (200, 201, 400), reply.content


@pytest.mark.slow
@given(payload=_mutations(load_payload("delighted_survey_response_updated.json")))
@FUZZ_SETTINGS
def test_signed_mutated_delighted_payloads_never_give_a_server_error(payload, delighted_source):
    body = json.dumps(payload).encode()

    reply = APIClient().generic("POST", f"/api/v1/feedback/webhooks/{delighted_source.slug}/", body,
                                content_type="application/json",
                                HTTP_X_DELIGHTED_WEBHOOK_SIGNATURE=delighted_signature(secret=delighted_source.secret, body=body))

    assert reply.status_code in (200, 201, 400), reply.content
