"""Platform operators and clinic vetting.

Operator rights are a flag on the account, set only by `python -m rapport_identity operator
grant` on identity's database (never by an email address, which nobody verifies). A clinic is
pending until an operator approves it; only an approved clinic's admin may verify licences, so
nobody can found a clinic, invite their own therapist account and vouch for invented licences.
"""

from __future__ import annotations

import os
import subprocess
import sys

import jwt
import pytest
from rapport_identity import cli as identity_cli
from rapport_identity.settings import IdentitySettings

from tests.identity import operators


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def me(api, person) -> dict:
    r = await api.http.get("/v1/me", headers=person.h)
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_operator_flag_not_the_email_makes_an_operator(api, db, stack):
    settings = stack.identity.settings
    # No setting names operators any more: an address someone registers first proves nothing.
    assert not any("operator" in name for name in IdentitySettings.model_fields)
    hopeful = await api.register("client", email=api.new_email().replace("id-", "operator-"))
    await api.enable_mfa(hopeful)
    assert (await me(api, hopeful))["role"] == "client"
    for path in ("/v1/ops/signing-keys/rotate", "/v1/clinics/marketplace/approve"):
        assert (
            "operator" in api.problem(await api.http.post(path, headers=hopeful.h), 403)["detail"]
        )

    # The deliberate act: the CLI's grant, on identity's own database.
    person = await api.register("client")
    assert claims(person.access)["role"] == "client"
    await operators.grant(settings, person.user_id)
    assert (await db.users.find_one({"_id": person.user_id}))["operator"] is True
    # The role follows at the next refresh (or sign-in): the marketplace clinic's admin.
    r = await api.http.post("/v1/auth/refresh", json={"refresh_token": person.refresh})
    assert r.status_code == 200, r.text
    person.access, person.refresh = r.json()["access_token"], r.json()["refresh_token"]
    assert (claims(person.access)["role"], claims(person.access)["clinic_id"]) == (
        "clinic_admin",
        "marketplace",
    )
    assert (await me(api, person))["clinic_id"] == "marketplace"

    # Operators act with multi-factor.
    r = await api.http.post("/v1/clinics/marketplace/approve", headers=person.h)
    assert "multi-factor" in api.problem(r, 403)["detail"]
    await api.enable_mfa(person)
    therapist = await api.therapist()
    lic = await api.add_license(therapist, "GB-ENG", kind="counsellor", number="BACP-7")
    assert (await api.verify(person, therapist, lic["license_id"])).json()["status"] == "verified"

    # Revoked: the account's tokens stop at once (the revocation bumps its token version), and
    # the next refresh makes the account a client again, with no clinic.
    mfa_token = person.access
    await operators.revoke(settings, person.user_id)
    pending = await api.admin(approved=False)
    r = await api.http.post(f"/v1/clinics/{pending.clinic_id}/approve", headers=person.h)
    assert "revoked" in api.problem(r, 401)["detail"]
    r = await api.http.post("/v1/auth/refresh", json={"refresh_token": person.refresh})
    person.access = r.json()["access_token"]
    assert (claims(person.access)["role"], claims(person.access)["clinic_id"]) == ("client", "")
    assert ((await me(api, person))["role"], (await me(api, person))["clinic_id"]) == ("client", "")
    # Its earlier token still says clinic_admin: revoked, the account record decides.
    other = await api.therapist()
    lic = await api.add_license(other, "GB-ENG", kind="counsellor", number="BACP-8")
    before = await db.licenses.find_one({"_id": lic["license_id"]})
    r = await api.http.post(
        f"/v1/therapists/{other.user_id}/licenses/{lic['license_id']}/verify",
        headers={"Authorization": f"Bearer {mfa_token}"},
    )
    api.problem(r, 401)
    assert await db.licenses.find_one({"_id": lic["license_id"]}) == before
    assert (await db.clinics.find_one({"_id": pending.clinic_id}))["status"] == "pending"


async def test_only_a_dedicated_client_account_can_be_made_an_operator(api, db, stack):
    settings = stack.identity.settings
    therapist = await api.therapist()
    admin = await api.admin()
    for person in (therapist, admin):
        before = await db.users.find_one({"_id": person.user_id})
        try:
            await operators.grant(settings, person.user_id)
        except Exception as exc:
            assert "dedicated account" in str(exc)
        else:
            raise AssertionError("a therapist or another clinic's admin was made an operator")
        assert await db.users.find_one({"_id": person.user_id}) == before


def cli(settings: IdentitySettings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env |= {
        "RAPPORT_IDENTITY_MONGO_URI": settings.mongo_uri,
        "RAPPORT_IDENTITY_MONGO_DB": settings.mongo_db,
        "RAPPORT_IDENTITY_VAULT_TOKEN": "unused-by-the-cli",
    }
    return subprocess.run(
        [sys.executable, "-m", "rapport_identity", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_operator_cli(api, stack, capsys):
    settings = stack.identity.settings
    person = await api.register("client")
    therapist = await api.therapist()

    # The real command, as an operator runs it beside the service (its settings, its database).
    done = cli(settings, "operator", "grant", person.user_id)
    assert done.returncode == 0, done.stderr
    assert person.user_id in done.stdout
    listed = cli(settings, "operator", "list")
    assert listed.returncode == 0 and person.user_id in listed.stdout
    assert person.email not in listed.stdout  # ids only
    await api.login(person)
    assert (await me(api, person))["role"] == "clinic_admin"

    # The same commands in this process (each subprocess costs seconds of imports).
    async def run(*argv: str) -> int:
        return await identity_cli.run(identity_cli.parser().parse_args(argv), settings)

    assert await run("operator", "revoke", person.user_id) == 0
    assert "no longer an operator" in capsys.readouterr().out
    await run("operator", "list")
    assert person.user_id not in capsys.readouterr().out
    await api.login(person)
    assert (await me(api, person))["role"] == "client"
    assert await run("operator", "grant", therapist.user_id) == 1
    assert "dedicated account" in capsys.readouterr().err
    assert await run("operator", "grant", "no-such-account") == 1
    assert "no account" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        identity_cli.parser().parse_args(["operator", "promote", person.user_id])


async def test_a_clinic_is_vetted_before_its_admin_can_verify_licences(api, db):
    # Anyone can found a clinic and invite their own second account as its therapist...
    admin = await api.admin(approved=False)
    r = await api.http.get(f"/v1/clinics/{admin.clinic_id}", headers=admin.h)
    assert (r.json()["status"], r.json()["approved_at"]) == ("pending", None)
    puppet = await api.therapist()
    await api.invite(admin, puppet)
    lic = await api.add_license(puppet, "US-CA", number="INVENTED-1")

    # ...but cannot vouch for its licences until a platform operator has vetted the clinic.
    before = await db.licenses.find_one({"_id": lic["license_id"]})
    problem = api.problem(await api.verify(admin, puppet, lic["license_id"]), 409)
    assert "approved" in problem["detail"]
    assert await db.licenses.find_one({"_id": lic["license_id"]}) == before
    assert before["verified_at"] is None
    r = await api.http.get("/v1/therapists", params={"jurisdiction": "US-CA", "limit": 100})
    assert puppet.user_id not in [i["therapist_id"] for i in r.json()["items"]]

    # Approval: an operator with multi-factor only; not the clinic's own admin, not a client.
    client = await api.register("client")
    for who in (admin, client):
        r = await api.http.post(f"/v1/clinics/{admin.clinic_id}/approve", headers=who.h)
        api.problem(r, 403)
    assert (await db.clinics.find_one({"_id": admin.clinic_id}))["status"] == "pending"
    operator = await api.operator()
    api.problem(await api.http.post("/v1/clinics/no-such-clinic/approve", headers=operator.h), 404)
    r = await api.http.post(f"/v1/clinics/{admin.clinic_id}/approve", headers=operator.h)
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "approved" and approved["approved_at"].endswith("+00:00")
    stored = await db.clinics.find_one({"_id": admin.clinic_id})
    assert stored["approved_by"] == operator.user_id
    # Approving again changes nothing.
    again = await api.http.post(f"/v1/clinics/{admin.clinic_id}/approve", headers=operator.h)
    assert again.json() == approved

    r = await api.verify(admin, puppet, lic["license_id"])
    assert r.status_code == 200 and r.json()["status"] == "verified"


async def test_the_marketplace_clinic_is_approved_from_creation(api):
    operator = await api.operator()
    r = await api.http.get("/v1/clinics/marketplace", headers=operator.h)
    assert r.json()["status"] == "approved"
