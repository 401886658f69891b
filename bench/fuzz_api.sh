#!/usr/bin/env bash
# Deep fuzz of the ingestion API from its own OpenAPI schema: no input may produce a 500.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_api bash bench/fuzz_api.sh [examples]
#
# Runs tests/api/test_fuzz.py with schemathesis's explicit examples, boundary/negative "coverage"
# cases and random generation, at [examples] (default 50) random cases per operation, against every
# operation under /api/v1/, as a key with every scope, a key per narrow scope and a staff session.
# Every answer must be below 500 and documented in the schema. The quick version of the same test
# runs in the normal suite.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_EXAMPLES="${1:-50}" FUZZ_NARROW_EXAMPLES="${FUZZ_NARROW_EXAMPLES:-5}" FUZZ_SESSION_EXAMPLES="${1:-50}" FUZZ_PHASES="examples,coverage,fuzzing" \
    .venv/bin/pytest tests/api/test_fuzz.py -q -p no:cacheprovider "${@:2}"
