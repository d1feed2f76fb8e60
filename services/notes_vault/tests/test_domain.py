"""Notes-vault's pure rules: content validation, versions, access decisions, the audit chain,
erasure timing, PHQ-9/GAD-7 scoring, care review, trends, outcomes, crisis resources."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from rapport_notes_vault import domain as d
from rapport_platform.errors import FailedPrecondition, InvalidArgument, PermissionDenied

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
AUTHOR = d.Caller("t1", d.THERAPIST, "c1", True)
OTHER = d.Caller("t2", d.THERAPIST, "c1", True)
CLIENT = d.Caller("k1", d.CLIENT, "", True)
ADMIN = d.Caller("a1", d.CLINIC_ADMIN, "c1", True)
SOAP = {"subjective": "s", "objective": "o", "assessment": "a", "plan": "p"}


def note(**kw) -> d.Note:
    n = d.new_note(
        note_id="n1",
        client_id="k1",
        author=AUTHOR,
        clinic_id="c1",
        appointment_id="ap1",
        kind=kw.pop("kind", d.PROGRESS),
        content=d.Content("soap", SOAP, ""),
        sud=kw.pop("sud", False),
        shared_with_client=kw.pop("shared", False),
        now=NOW,
    )
    return replace(d.sign(n, NOW), **kw)


def consent(**kw) -> d.Consent:
    c = d.Consent("cs1", "k1", "t2", "treatment", False, NOW, NOW + timedelta(days=30))
    return replace(c, **kw)


def read(n, caller, *, treats=True, consents=(), grants=(), now=NOW):
    return d.read_access(
        n, caller, treats=treats, consents=list(consents), grants=list(grants), now=now
    )


def test_content_rules():
    assert d.validate_content(d.PROGRESS, d.Content("soap", SOAP, ""), 65536).format == "soap"
    dap = {"data": "x", "assessment": "y", "plan": "z"}
    assert d.validate_content(d.PROGRESS, d.Content("dap", dap, ""), 65536).format == "dap"
    assert d.validate_content(d.INTAKE, d.Content("", {}, "text"), 65536).format == "text"
    for kind, content in [
        ("diary", d.Content("text", {}, "x")),
        (d.PROGRESS, d.Content("text", {}, "x")),
        (d.PROGRESS, d.Content("soap", {**SOAP, "plan": " "}, "")),
        (d.PROGRESS, d.Content("soap", {"subjective": "s"}, "")),
        (d.PSYCHOTHERAPY, d.Content("text", {}, "  ")),
        (d.INTAKE, d.Content("text", {}, "x" * 70000)),
    ]:
        with pytest.raises(InvalidArgument):
            d.validate_content(kind, content, 65536)


def test_signed_notes_are_amended_never_edited():
    draft = d.new_note(
        note_id="n1", client_id="k1", author=AUTHOR, clinic_id="c1", appointment_id="a",
        kind=d.PROGRESS, content=d.Content("soap", SOAP, ""), sud=False,
        shared_with_client=False, now=NOW,
    )  # fmt: skip
    signed = d.sign(draft, NOW)
    with pytest.raises(FailedPrecondition):
        d.sign(signed, NOW)
    with pytest.raises(FailedPrecondition):
        d.amendment(draft, 1, note_id="n2", content=d.Content("soap", SOAP, ""), now=NOW)
    v2 = d.amendment(signed, 1, note_id="n2", content=d.Content("soap", SOAP, ""), now=NOW)
    assert (v2.version, v2.amends_note_id, v2.root_note_id, v2.status) == (2, "n1", "n1", "signed")
    with pytest.raises(FailedPrecondition):
        d.amendment(signed, 2, note_id="n3", content=d.Content("soap", SOAP, ""), now=NOW)
    assert d.aad("n1", 1) != d.aad("n1", 2)


def test_psychotherapy_notes_cannot_be_shared():
    with pytest.raises(InvalidArgument):
        note(kind=d.PSYCHOTHERAPY, shared=True)


def test_access_rules():
    n = note()
    assert read(n, AUTHOR).basis == d.AUTHOR
    with pytest.raises(PermissionDenied):
        read(n, replace(AUTHOR, mfa=False))
    with pytest.raises(PermissionDenied):
        read(n, OTHER)  # no consent
    assert read(n, OTHER, consents=[consent()]).basis == d.BY_CONSENT
    with pytest.raises(PermissionDenied):
        read(n, OTHER, treats=False, consents=[consent()])
    for stale in (consent(revoked_at=NOW), consent(expires_at=NOW)):
        with pytest.raises(PermissionDenied):
            read(n, OTHER, consents=[stale])
    with pytest.raises(PermissionDenied):
        read(note(kind=d.PSYCHOTHERAPY, format="text"), OTHER, consents=[consent()])
    with pytest.raises(PermissionDenied):
        read(n, ADMIN)
    with pytest.raises(PermissionDenied):
        read(n, CLIENT)
    assert read(note(shared=True), CLIENT).basis == d.BY_CLIENT


def test_part2_needs_a_consent_that_covers_sud():
    n = note(sud=True)
    with pytest.raises(d.Denied) as info:
        read(n, OTHER, consents=[consent()])
    assert info.value.reason == "no_part2_consent"
    access = read(n, OTHER, consents=[consent(covers_sud=True)])
    assert access.disclosure and access.consent is not None


def test_break_glass_is_bounded():
    g = d.break_glass(
        grant_id="g", caller=OTHER, client_id="k1", client_clinics={"c1"}, reason="crisis",
        minutes=30, max_minutes=240, now=NOW,
    )  # fmt: skip
    assert read(note(), OTHER, treats=False, grants=[g]).basis == d.BY_BREAK_GLASS
    with pytest.raises(PermissionDenied):
        read(note(), OTHER, treats=False, grants=[g], now=NOW + timedelta(minutes=30))
    with pytest.raises(PermissionDenied):
        read(note(kind=d.PSYCHOTHERAPY, format="text"), OTHER, grants=[g])
    for kw in ({"reason": " "}, {"minutes": 0}, {"minutes": 241}):
        args = {"reason": "crisis", "minutes": 30, **kw}
        with pytest.raises(InvalidArgument):
            d.break_glass(grant_id="g", caller=OTHER, client_id="k1", client_clinics={"c1"},
                          max_minutes=240, now=NOW, **args)  # fmt: skip
    with pytest.raises(PermissionDenied):
        d.break_glass(grant_id="g", caller=OTHER, client_id="k1", client_clinics={"c9"},
                      reason="x", minutes=5, max_minutes=240, now=NOW)  # fmt: skip
    independent = replace(OTHER, clinic_id=d.OPERATOR_CLINIC_ID)
    with pytest.raises(PermissionDenied):
        d.break_glass(grant_id="g", caller=independent, client_id="k1",
                      client_clinics={d.OPERATOR_CLINIC_ID}, reason="x", minutes=5,
                      max_minutes=240, now=NOW)  # fmt: skip


def test_break_glass_is_reviewed_once_by_its_clinic_s_admin_with_mfa():
    g = d.break_glass(
        grant_id="g", caller=OTHER, client_id="k1", client_clinics={"c1"}, reason="crisis",
        minutes=30, max_minutes=240, now=NOW,
    )  # fmt: skip
    d.may_review_break_glass(ADMIN, "c1")
    operator = d.Caller("op", d.CLINIC_ADMIN, d.OPERATOR_CLINIC_ID, True)
    for who in (OTHER, CLIENT, replace(ADMIN, clinic_id="c2"), replace(ADMIN, mfa=False), operator):
        with pytest.raises(PermissionDenied):
            d.may_review_break_glass(who, "c1")
    with pytest.raises(InvalidArgument):
        d.review_break_glass(g, reviewer_id="a1", outcome="fine", now=NOW)
    done = d.review_break_glass(g, reviewer_id="a1", outcome="justified", now=NOW)
    assert (done.reviewed_at, done.reviewed_by, done.review_outcome) == (NOW, "a1", "justified")
    assert replace(done, reviewed_at=None, reviewed_by="", review_outcome="") == g
    with pytest.raises(FailedPrecondition):
        d.review_break_glass(done, reviewer_id="a1", outcome="unjustified", now=NOW)


def _chain(n: int) -> list[d.AuditEntry]:
    out, seq, prev = [], 0, d.GENESIS
    for i in range(n):
        e = d.chain(
            d.AuditEntry(0, NOW.isoformat(), f"u{i}", "therapist", "note.read", "allowed"),
            seq,
            prev,
        )
        out.append(e)
        seq, prev = e.seq, e.hash
    return out


def test_audit_chain_detects_alteration_removal_and_truncation():
    entries = _chain(5)
    head = (entries[-1].seq, entries[-1].hash)
    assert d.verify_chain(entries, *head).intact
    altered = [*entries[:2], replace(entries[2], actor_id="x"), *entries[3:]]
    assert d.verify_chain(altered, *head).first_broken_seq == 3
    removed = [*entries[:2], *entries[3:]]
    assert d.verify_chain(removed, *head).first_broken_seq == 3
    assert d.verify_chain(entries[:4], *head).first_broken_seq == 5
    assert not d.verify_chain(entries[:4], *head).intact


def test_erasure_timing():
    due = d.shred_after(NOW, NOW + timedelta(days=10), 2557)
    assert due == NOW + timedelta(days=2567)
    assert not d.may_shred(requested=True, due=due, legal_hold=False, now=due - timedelta(1))
    assert d.may_shred(requested=True, due=due, legal_hold=False, now=due)
    assert not d.may_shred(requested=True, due=due, legal_hold=True, now=due)


def test_scoring_and_bands():
    assert d.score(d.PHQ9, [3] * 9).severity == "severe"
    assert d.score(d.PHQ9, [2, 2, 2, 2, 2, 2, 2, 1, 0]).severity == "moderately_severe"
    assert d.score(d.PHQ9, [1] * 9).severity == "mild"
    assert d.score(d.GAD7, [3] * 5 + [0, 0]).severity == "severe"
    assert d.score(d.GAD7, [0] * 7).severity == "minimal"
    assert d.score(d.PHQ9, [0] * 8 + [1]).safety
    assert not d.score(d.GAD7, [0] * 6 + [1]).safety
    for instrument, answers in [
        (d.PHQ9, [0] * 8),
        (d.GAD7, [4] + [0] * 6),
        (d.PHQ9, [-1] * 9),
        ("X", [0]),
    ]:
        with pytest.raises(InvalidArgument):
            d.score(instrument, answers)


def test_care_review_rule():
    assert d.care_review([14, 13], 3) is None
    assert d.care_review([14, 13, 12], 3) == d.NOT_IMPROVED
    assert d.care_review([14, 10, 7], 3) is None  # halved
    assert d.care_review([8, 13], 6) == d.WORSENED
    assert d.care_review([8, 13, 14], 6) is None  # already flagged at the last measure
    assert d.care_review([3, 3, 3], 3) is None  # minimal at baseline: nothing to halve


def test_trends_outcomes_and_suppression():
    [t] = d.trends([(d.PHQ9, 20), (d.PHQ9, 10)])
    assert (t.change, t.improvement_percent, t.count) == (-10, 50, 2)
    small = d.outcomes(d.PHQ9, {"a": [20, 4], "b": [10, 9]}, 3)
    assert small.suppressed and small.clients_measured == 0
    o = d.outcomes(d.PHQ9, {"a": [20, 4], "b": [10, 9], "c": [12, 2], "d": [5]}, 3)
    assert not o.suppressed and o.clients_measured == 3
    assert o.share_improved_50 == round(2 / 3, 4) and o.median_change == -10


def test_crisis_resources_by_jurisdiction():
    assert "988" in d.crisis_resources("US-NY")[0].contact
    assert "116 123" in d.crisis_resources("GB-ENG")[0].contact
    assert d.crisis_resources("ZZ") == d.CRISIS_ELSEWHERE


def test_a_clinic_keeps_records_longer_never_shorter():
    assert d.check_retention(3000, 2557) == 3000
    for bad in (2556, d.MAX_RETENTION_DAYS + 1):
        with pytest.raises(InvalidArgument):
            d.check_retention(bad, 2557)
    assert d.retention_for(set(), {}, 2557) == 2557
    assert d.retention_for({"c1", "c2"}, {"c1": 3000, "c2": 4000, "c9": 9000}, 2557) == 4000
    assert d.retention_for({"c3"}, {"c1": 3000}, 2557) == 2557
