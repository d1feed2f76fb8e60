"""No PHI in spans: URLs keep their shape, never their data."""

from __future__ import annotations

import httpx
from rapport_gateway.app import scrub_url


def test_scrub_url_drops_query_values_and_path_secrets():
    assert scrub_url("/v1/therapists?jurisdiction=US-CA&specialty=addiction") == (
        "/v1/therapists?jurisdiction=&specialty="
    )
    assert scrub_url("/v1/calendar-feeds/s3cr3tT0ken.ics") == "/v1/calendar-feeds/{secret}.ics"
    assert scrub_url("/v1/invitations/s3cr3t_T0k-en/accept") == "/v1/invitations/{secret}/accept"
    assert scrub_url("http://h/v1/me") == "http://h/v1/me"


async def test_a_directory_search_leaves_no_search_terms_in_any_span(stack, telemetry):
    async with httpx.AsyncClient(base_url=stack.url) as http:
        r = await http.get(
            "/v1/therapists",
            params={"jurisdiction": "US-CA", "specialty": "addiction", "language": "en"},
        )
    assert r.status_code == 200, r.text
    trace_id = int(r.headers["X-Trace-Id"], 16)
    spans = [s for s in telemetry.finished() if s.context.trace_id == trace_id]
    assert any(s.kind.name == "SERVER" for s in spans)
    for span in spans:
        for value in (span.attributes or {}).values():
            assert "addiction" not in str(value), (span.name, value)
