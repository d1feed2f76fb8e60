"""Reads scoped by role (client, therapist, clinic admin), pagination, and the therapist's
iCalendar feed at a secret URL, without client names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from icalendar import Calendar

from tests.people import assert_problem
from tests.scheduling.helpers import Practice, on_grid, parse


async def all_pages(http, who, **params) -> list[dict]:
    items, cursor = [], ""
    for _ in range(100):
        r = await http.get("/v1/appointments", headers=who.h, params={**params, "cursor": cursor})
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        if not page["next_cursor"]:
            return items
        cursor = page["next_cursor"]
    raise AssertionError("pagination never ended")


async def test_each_role_sees_its_own(practice, http):
    t1, t2 = await practice.therapist(), await practice.therapist()
    c1, c2 = await practice.client(), await practice.client()
    base = on_grid(datetime.now(UTC) + timedelta(days=8))
    a = (await practice.book(c1, t1, base)).json()["appointment_id"]
    b = (await practice.book(c1, t2, base)).json()["appointment_id"]
    c = (await practice.book(c2, t1, base + timedelta(hours=2))).json()["appointment_id"]

    assert {i["appointment_id"] for i in await all_pages(http, c1)} == {a, b}
    assert {i["appointment_id"] for i in await all_pages(http, c2)} == {c}
    assert {i["appointment_id"] for i in await all_pages(http, t1)} == {a, c}
    assert {i["appointment_id"] for i in await all_pages(http, t2)} == {b}
    seen = await all_pages(http, practice.admin, limit=200)
    assert {a, b, c} <= {i["appointment_id"] for i in seen}
    assert {i["clinic_id"] for i in seen} == {practice.admin.clinic_id}

    # Another clinic's admin sees none of it, and nobody reads an appointment not theirs.
    elsewhere = await Practice(http).open()
    theirs = {i["appointment_id"] for i in await all_pages(http, elsewhere.admin)}
    assert not theirs & {a, b, c}
    assert_problem(await http.get(f"/v1/appointments/{a}", headers=elsewhere.admin.h), 403)
    assert_problem(await http.get(f"/v1/appointments/{a}", headers=c2.h), 403)
    assert (await http.get(f"/v1/appointments/{a}", headers=practice.admin.h)).status_code == 200


async def test_pagination_filters_and_order(practice, http):
    t = await practice.therapist()
    c = await practice.client()
    base = on_grid(datetime.now(UTC) + timedelta(days=9))
    starts = [base + timedelta(hours=h) for h in (4, 0, 3, 1, 2)]
    ids = [(await practice.book(c, t, s)).json()["appointment_id"] for s in starts]
    await http.post(f"/v1/appointments/{ids[0]}/cancel", headers=c.h, json={})

    pages = []
    cursor = ""
    while True:
        r = await http.get("/v1/appointments", headers=c.h, params={"limit": 2, "cursor": cursor})
        body = r.json()
        pages.append([parse(i["start"]) for i in body["items"]])
        if not body["next_cursor"]:
            break
        cursor = body["next_cursor"]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [s for p in pages for s in p] == sorted(starts)

    cancelled = await all_pages(http, c, status="cancelled")
    assert [i["appointment_id"] for i in cancelled] == [ids[0]]
    confirmed = await all_pages(http, c, status="confirmed")
    assert len(confirmed) == 4
    window = await all_pages(
        http,
        c,
        **{
            "from": (base + timedelta(hours=1)).isoformat(),
            "to": (base + timedelta(hours=3)).isoformat(),
        },
    )
    assert [parse(i["start"]) for i in window] == [
        base + timedelta(hours=1),
        base + timedelta(hours=2),
    ]

    assert_problem(await http.get("/v1/appointments", headers=c.h, params={"cursor": "bogus"}), 422)
    assert_problem(await http.get("/v1/appointments", headers=c.h, params={"limit": 0}), 422)
    assert_problem(await http.get("/v1/appointments", headers=c.h, params={"status": "lost"}), 422)
    assert_problem(await http.get("/v1/appointments"), 401)


async def test_icalendar_feed_at_a_secret_url_without_client_names(practice, http, telemetry):
    t = await practice.therapist()
    c = await practice.client()
    base = on_grid(datetime.now(UTC) + timedelta(days=4))
    kept = (await practice.book(c, t, base, session_type="long-90")).json()
    dropped = (await practice.book(c, t, base + timedelta(hours=3))).json()
    await http.post(f"/v1/appointments/{dropped['appointment_id']}/cancel", headers=c.h, json={})

    assert_problem(await http.post(f"/v1/therapists/{t.user_id}/calendar-feed", headers=c.h), 403)
    r = await http.post(f"/v1/therapists/{t.user_id}/calendar-feed", headers=t.h)
    assert r.status_code == 201, r.text
    url = r.json()["feed_url"]
    assert url.endswith(".ics") and r.json()["feed_token"] in url

    # No Authorization header: the URL is the secret (calendar apps subscribe to it).
    async with httpx.AsyncClient() as anonymous:
        feed = await anonymous.get(url)
    assert feed.status_code == 200, feed.text
    assert feed.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(feed.content)
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {
        f"{kept['appointment_id']}@rapport",
        f"{dropped['appointment_id']}@rapport",
    }
    mine = events[f"{kept['appointment_id']}@rapport"]
    assert mine.decoded("DTSTART") == base and mine.decoded("DTEND") == base + timedelta(minutes=90)
    assert str(mine["STATUS"]) == "CONFIRMED" and "long-90" in str(mine["SUMMARY"])
    assert str(events[f"{dropped['appointment_id']}@rapport"]["STATUS"]) == "CANCELLED"
    text = feed.text
    assert "Casey" not in text and c.email not in text and c.user_id not in text
    # The token is a credential: no exported span carries it.
    token = r.json()["feed_token"]
    spans = telemetry.finished()
    assert any(s.name.startswith("GET /v1/calendar-feeds/") for s in spans)
    for span in spans:
        assert not any(token in str(v) for v in (span.attributes or {}).values()), span.name

    # A new feed URL replaces the old one, which stops working.
    r2 = await http.post(f"/v1/therapists/{t.user_id}/calendar-feed", headers=t.h)
    async with httpx.AsyncClient() as anonymous:
        assert_problem(await anonymous.get(url), 404)
        assert (await anonymous.get(r2.json()["feed_url"])).status_code == 200
        assert_problem(
            await anonymous.get(f"{practice.http.base_url}/v1/calendar-feeds/{'x' * 43}.ics"), 404
        )
