"""The whole API against its own OpenAPI document (schemathesis): no 500, no answer that breaks the document,
no traceback text in any body. Requests carry an admin's token, so they reach the service, not only the door.

The example count is bounded (``MAX_EXAMPLES`` per operation, derandomised) so it runs in well under a minute.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 12

TRACE_WORDS = ("Traceback", 'File "', "Error:", "site-packages")


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(server.api("schema/"))


def no_traceback(ctx, response, case) -> None:
    text = response.text or ""
    for word in TRACE_WORDS:
        assert word not in text, f"{word!r} in the answer to {case.method} {case.path}: {text[:300]}"


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case, server):
    # Signing out would end the admin's session for every case after it: that one goes without a token.
    signs_out = case.path == "/api/auth/logout/"
    headers = {} if signs_out else {"Authorization": f"Token {server.admin()}"}
    case.call_and_validate(
        headers=headers,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, no_traceback],
    )
