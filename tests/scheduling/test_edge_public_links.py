"""Public links come from the configured public URL, never from the Host header (issue 13,
item 4): the calendar feed URL is a credential, and a forged Host would hand it elsewhere."""

from __future__ import annotations


async def test_the_feed_url_ignores_a_forged_host_header(practice, http, stack):
    t = await practice.therapist()
    forged = {**t.h, "Host": "attacker.example", "X-Forwarded-Host": "attacker.example"}
    r = await http.post(f"/v1/therapists/{t.user_id}/calendar-feed", headers=forged)
    assert r.status_code == 201, r.text
    url = r.json()["feed_url"]
    assert "attacker" not in url
    public = stack.gateway.settings.public_url
    assert url == f"{public}/v1/calendar-feeds/{r.json()['feed_token']}.ics"
