"""Defects schemathesis found, each with its own test."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from tests.people import assert_problem


async def test_an_answer_beyond_int32_is_a_422_not_a_500_and_records_nothing(
    full_stack, full_http, world
):
    client = world.people["client"]
    mongo = AsyncMongoClient(full_stack.stack.deps.mongo_uri, tz_aware=True)
    try:
        measures = mongo[full_stack.notes.settings.mongo_db]["measures"]
        before = await measures.count_documents({})
        for answers in ([-9397032010026, 2, 1], [2**31, 0, 0, 0, 0, 0, 0], [4] * 7):
            r = await full_http.post(
                f"/v1/clients/{client.user_id}/measures",
                headers=client.h,
                json={"instrument": "GAD7", "answers": answers},
            )
            assert assert_problem(r, 422)["field"].startswith("answers")
        assert await measures.count_documents({}) == before
    finally:
        await mongo.close()
