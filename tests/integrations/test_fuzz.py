"""Fuzzes every API operation from the served OpenAPI schema.

Each generated request must get an answer below 500 whose status the schema documents for that
operation. Every operation is run as three kinds of caller: a key holding every scope, a key
per narrow scope (mostly 403s, which must be documented too), and a marketplace admin's staff
session (with its CSRF token, as a browser would send it).

Kept short in the suite (fixed seed, FUZZ_EXAMPLES per operation for the all-scopes key, fewer
for the others); bench/fuzz_api.sh runs it deeper.
"""

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")

from django.conf import settings as django_settings  # noqa: E402
from django.core import signals  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from django.test import Client  # noqa: E402
from hypothesis import HealthCheck, seed, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import status_code_conformance  # noqa: E402

from core import roles  # noqa: E402
from core.factories import UserFactory  # noqa: E402
from integrations.factories import ApiKeyFactory  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
NARROW_EXAMPLES = int(os.environ.get("FUZZ_NARROW_EXAMPLES", "1"))
SESSION_EXAMPLES = int(os.environ.get("FUZZ_SESSION_EXAMPLES", "2"))
# The quick in-suite run uses random generation only; FUZZ_PHASES=examples,coverage,fuzzing adds
# schemathesis's boundary/negative "coverage" cases (about 100 per operation).
PHASES = os.environ.get("FUZZ_PHASES", "fuzzing").split(",")
SEED = 20261130
# Every scope a view asks for; loyalty:admin is not implied by "*" and is added by name.
NARROW_SCOPES = [
    "storefront:write",
    "feedback:write",
    "feedback:read",
    "loyalty:read",
    "loyalty:write",
    "loyalty:admin",
    "retention:read",
    "scoring:read",
]
CHECKS = [not_a_server_error, status_code_conformance]

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application()).include(
    path_regex=r"^/api/v1/"
)
schema.config.phases.update(phases=PHASES)


@pytest.fixture
def wsgi_in_test_transaction(db):
    # The WSGI handler closes "old" connections around each request, which would close the
    # test's own transaction; Django's test client disconnects the same hook.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def all_scopes_headers(wsgi_in_test_transaction):
    key = ApiKeyFactory(scopes=["*", "loyalty:admin"])
    return {"Authorization": f"Api-Key {key.plain_key}"}


@pytest.fixture(params=NARROW_SCOPES)
def narrow_scope_headers(request, wsgi_in_test_transaction):
    key = ApiKeyFactory(scopes=[request.param])
    return {"Authorization": f"Api-Key {key.plain_key}"}


@pytest.fixture
def staff_session_headers(wsgi_in_test_transaction):
    client = Client()
    client.force_login(UserFactory(roles=[roles.MARKETPLACE_ADMIN]))
    csrf = "k" * 32  # An unmasked CSRF secret is accepted when cookie and header agree.
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return {
        "Cookie": f"{django_settings.SESSION_COOKIE_NAME}={session}; {django_settings.CSRF_COOKIE_NAME}={csrf}",
        "X-CSRFToken": csrf,
    }


def fuzz_settings(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def call_and_check(case, headers: dict) -> None:
    response = case.call(headers=headers)

    case.validate_response(response, checks=CHECKS)
    assert response.status_code < 500


@pytest.mark.slow
@schema.parametrize()
@seed(SEED)
@fuzz_settings(EXAMPLES)
def test_every_operation_answers_a_key_with_every_scope_without_a_server_error(case, all_scopes_headers):
    call_and_check(case, all_scopes_headers)


@pytest.mark.slow
@schema.parametrize()
@seed(SEED)
@fuzz_settings(NARROW_EXAMPLES)
def test_every_operation_answers_each_narrow_scope_with_a_documented_status(case, narrow_scope_headers):
    call_and_check(case, narrow_scope_headers)


@pytest.mark.slow
@schema.parametrize()
@seed(SEED)
@fuzz_settings(SESSION_EXAMPLES)
def test_every_operation_answers_a_staff_session_without_a_server_error(case, staff_session_headers):
    call_and_check(case, staff_session_headers)
