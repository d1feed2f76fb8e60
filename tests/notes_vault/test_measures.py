"""PHQ-9 / GAD-7 through the gateway: validation, scoring, the trend, safety flags with crisis
resources, care-review suggestions, and de-identified outcomes with small-cell suppression."""

from __future__ import annotations

import asyncio

import nats
from rapport.events.v1 import notes_pb2 as ev

from tests.people import assert_problem

PHQ9 = "PHQ9"


async def record(http, who, client, answers, instrument=PHQ9, status=201, **extra):
    r = await http.post(
        f"/v1/clients/{client.user_id}/measures",
        headers=who.h,
        json={"instrument": instrument, "answers": answers, **extra},
    )
    assert r.status_code == status, r.text
    return r.json()


def phq9(total: int, item9: int = 0) -> list[int]:
    """Answers adding up to `total` with item 9 as given."""
    answers, left = [0] * 9, total - item9
    for i in range(8):
        answers[i] = min(3, left)
        left -= answers[i]
    answers[8] = item9
    assert sum(answers) == total
    return answers


async def test_bad_answers_are_refused_and_nothing_is_stored(care, http, notes_db):
    t, c = await care.staff(0), await care.client()
    await care.book(c, t)
    before = await notes_db["measures"].count_documents({"client_id": c.user_id})
    assert_problem(
        await http.post(
            f"/v1/clients/{c.user_id}/measures",
            headers=c.h,
            json={"instrument": PHQ9, "answers": [0] * 8},
        ),
        422,
    )
    assert_problem(
        await http.post(
            f"/v1/clients/{c.user_id}/measures",
            headers=c.h,
            json={"instrument": "GAD7", "answers": [4, 0, 0, 0, 0, 0, 0]},
        ),
        422,
    )
    assert_problem(
        await http.post(
            f"/v1/clients/{c.user_id}/measures",
            headers=c.h,
            json={"instrument": "BDI", "answers": [0] * 21},
        ),
        422,
    )
    assert await notes_db["measures"].count_documents({"client_id": c.user_id}) == before


async def test_scoring_trend_and_encryption(care, http, notes_db):
    t, c = await care.staff(0), await care.client()
    await care.book(c, t)
    first = await record(http, c, c, phq9(16))
    assert (first["score"], first["severity"]) == (16, "moderately_severe")
    assert first["crisis_resources"] == [] and first["recorded_by"] == "client"
    g = await record(http, t, c, [3, 3, 3, 3, 3, 0, 0], instrument="GAD7")
    assert (g["score"], g["severity"]) == (15, "severe")
    await record(http, c, c, phq9(7))
    doc = await notes_db["measures"].find_one({"_id": first["measure_id"]})
    assert "score" not in doc and "answers" not in doc and doc["wrapped_key"].startswith("vault:")

    r = await http.get(f"/v1/clients/{c.user_id}/measures", headers=t.h)
    assert r.status_code == 200, r.text
    trend = {x["instrument"]: x for x in r.json()["trends"]}[PHQ9]
    assert (trend["baseline"], trend["latest"], trend["change"]) == (16, 7, -9)
    assert trend["improvement_percent"] == 56 and trend["count"] == 2
    assert [m["score"] for m in r.json()["items"] if m["instrument"] == PHQ9] == [16, 7]
    # A therapist who does not treat the client sees none of it.
    stranger = await care.staff(2)
    assert_problem(await http.get(f"/v1/clients/{c.user_id}/measures", headers=stranger.h), 403)
    assert_problem(
        await http.post(
            f"/v1/clients/{c.user_id}/measures",
            headers=stranger.h,
            json={"instrument": PHQ9, "answers": [0] * 9},
        ),
        403,
    )


async def _events(stack, subject, cls, client_id, n, timeout=20.0):
    nc = await nats.connect(stack.deps.nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy="all")
        found = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found) < n and asyncio.get_running_loop().time() < deadline:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                continue
            e = cls.FromString(msg.data)
            if e.client_id == client_id:
                found.append((e, msg))
        return found
    finally:
        await nc.close()


async def test_item9_flags_safety_at_once_with_crisis_resources(care, http, stack):
    t = await care.staff(0)
    c = await care.client(jurisdiction="US-NY")
    await care.book(c, t)
    m = await record(http, c, c, phq9(6, item9=1))
    assert "safety" in m["flags"]
    assert any("988" in r["contact"] for r in m["crisis_resources"])
    uk = await care.client(jurisdiction="GB-ENG")
    await care.book(uk, t)
    m_uk = await record(http, uk, uk, phq9(3, item9=2))
    assert any("116 123" in r["contact"] for r in m_uk["crisis_resources"])

    [(flag, msg)] = await _events(stack, "rapport.notes.safety_flag", ev.SafetyFlag, c.user_id, 1)
    assert flag.measure_id == m["measure_id"] and flag.therapist_id == t.user_id
    # Ids and a time only: no crisis text, no score, in the body or the headers. (Not "no 988 in
    # the bytes": random ids contain those digits now and then.)
    ids_only = ev.SafetyFlag()
    ids_only.CopyFrom(flag)
    ids_only.DiscardUnknownFields()
    assert ids_only.SerializeToString(deterministic=True) == msg.data
    assert {f.name for f, _ in flag.ListFields()} <= {
        "client_id",
        "therapist_id",
        "clinic_id",
        "measure_id",
        "occurred_at",
    }
    assert all("score" not in k for k in msg.headers)


async def test_no_improvement_or_worsening_suggests_a_care_review(care, http, stack):
    # The test settings review after 3 measured sessions.
    t = await care.staff(0)
    stuck, worse = await care.client(), await care.client()
    await care.book(stuck, t)
    await care.book(worse, t)
    for total in (14, 13, 12):  # not halved after three sessions
        last = await record(http, stuck, stuck, phq9(total))
    assert "care_review_suggested" in last["flags"]
    await record(http, worse, worse, phq9(8))
    m = await record(http, worse, worse, phq9(13))  # 5 points worse
    assert "care_review_suggested" in m["flags"]

    got = await _events(
        stack, "rapport.notes.care_review_suggested", ev.CareReviewSuggested, stuck.user_id, 1
    )
    assert got[0][0].reason == "not_improved" and got[0][0].sessions == 3
    got = await _events(
        stack, "rapport.notes.care_review_suggested", ev.CareReviewSuggested, worse.user_id, 1
    )
    assert got[0][0].reason == "worsened" and got[0][0].therapist_id == t.user_id


async def test_outcomes_are_aggregated_and_suppressed_below_the_cell_size(care, http):
    # Test settings: minimum cell size 3. A fresh therapist keeps the figures predictable.
    t = await care.therapist()
    clients = [await care.client(mfa=False) for _ in range(3)]
    for c in clients[:2]:
        await care.book(c, t)
        await record(http, c, c, phq9(20))
        await record(http, c, c, phq9(4))
    r = await http.get(f"/v1/therapists/{t.user_id}/outcomes", headers=t.h)
    assert r.status_code == 200, r.text
    assert r.json()["suppressed"] is True and r.json()["clients_measured"] is None

    c = clients[2]
    await care.book(c, t)
    await record(http, c, c, phq9(10))
    await record(http, c, c, phq9(9))
    o = (await http.get(f"/v1/therapists/{t.user_id}/outcomes", headers=t.h)).json()
    assert o["suppressed"] is False and o["clients_measured"] == 3
    assert abs(o["share_improved_50"] - 2 / 3) < 0.001
    assert abs(o["share_remission"] - 2 / 3) < 0.001
    assert o["median_change"] == -16

    clinic = await http.get(f"/v1/clinics/{care.admin.clinic_id}/outcomes", headers=care.admin.h)
    assert clinic.status_code == 200 and clinic.json()["suppressed"] is False
    assert_problem(await http.get(f"/v1/clinics/{care.admin.clinic_id}/outcomes", headers=t.h), 403)
    other = await care.staff(1)
    assert_problem(await http.get(f"/v1/therapists/{t.user_id}/outcomes", headers=other.h), 403)
