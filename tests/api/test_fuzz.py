"""Fuzzes the ingestion endpoints from their own OpenAPI schema: no input may produce a 500.

Kept short here (FUZZ_EXAMPLES per operation, default 5); bench/fuzz_api.sh runs it deeper.
"""

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")

from django.core import signals  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from integrations.factories import ApiKeyFactory  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
# The quick in-suite run uses random generation only; FUZZ_PHASES=examples,coverage,fuzzing adds
# schemathesis's boundary/negative "coverage" cases (about 100 per operation).
PHASES = os.environ.get("FUZZ_PHASES", "fuzzing").split(",")

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application()).include(
    path_regex=r"^/api/v1/(marketplace|integrations)/"
)
schema.config.phases.update(phases=PHASES)


@pytest.fixture
def fuzz_key(db):
    # The WSGI handler closes "old" connections around each request, which would close the
    # test's own transaction; Django's test client disconnects the same hook.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield ApiKeyFactory(scopes=["*"])
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_gives_a_server_error(case, fuzz_key):
    response = case.call(headers={"Authorization": f"Api-Key {fuzz_key.plain_key}"})

    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500
