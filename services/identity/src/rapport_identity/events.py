"""What identity publishes (through the outbox). Payloads carry ids, codes and times only."""

from __future__ import annotations

from datetime import datetime

from rapport.events.v1 import identity_pb2
from rapport_platform.timestamps import to_timestamp

from rapport_identity.domain import Clinic, License, Profile, User

USER_REGISTERED = "rapport.identity.user_registered"
CLINIC_CREATED = "rapport.identity.clinic_created"
THERAPIST_PROFILE_UPDATED = "rapport.identity.therapist_profile_updated"
THERAPIST_JOINED_CLINIC = "rapport.identity.therapist_joined_clinic"
LICENSE_VERIFIED = "rapport.identity.license_verified"
LICENSE_EXPIRED = "rapport.identity.license_expired"
MFA_RESET = "rapport.identity.mfa_reset"


def user_registered(user: User) -> identity_pb2.UserRegistered:
    return identity_pb2.UserRegistered(
        user_id=user.user_id,
        role=user.role,
        clinic_id=user.clinic_id,
        jurisdiction=user.jurisdiction,
        occurred_at=to_timestamp(user.created_at),
    )


def clinic_created(clinic: Clinic) -> identity_pb2.ClinicCreated:
    return identity_pb2.ClinicCreated(
        clinic_id=clinic.clinic_id,
        admin_user_id=clinic.admin_user_id,
        currency=clinic.currency,
        commission_bps=clinic.commission_bps,
        occurred_at=to_timestamp(clinic.created_at),
    )


def therapist_profile_updated(profile: Profile) -> identity_pb2.TherapistProfileUpdated:
    return identity_pb2.TherapistProfileUpdated(
        therapist_id=profile.therapist_id,
        clinic_id=profile.clinic_id,
        occurred_at=to_timestamp(profile.updated_at),
    )


def therapist_joined_clinic(
    therapist_id: str, clinic_id: str, previous: str, at: datetime
) -> identity_pb2.TherapistJoinedClinic:
    return identity_pb2.TherapistJoinedClinic(
        therapist_id=therapist_id,
        clinic_id=clinic_id,
        previous_clinic_id=previous,
        occurred_at=to_timestamp(at),
    )


def license_verified(lic: License) -> identity_pb2.LicenseVerified:
    assert lic.verified_at is not None
    return identity_pb2.LicenseVerified(
        license_id=lic.license_id,
        therapist_id=lic.therapist_id,
        clinic_id=lic.clinic_id,
        kind=lic.kind,
        jurisdiction=lic.jurisdiction,
        expires_on=lic.expires_on.isoformat() if lic.expires_on else "",
        verified_by=lic.verified_by,
        occurred_at=to_timestamp(lic.verified_at),
    )


def license_expired(lic: License, at: datetime) -> identity_pb2.LicenseExpired:
    return identity_pb2.LicenseExpired(
        license_id=lic.license_id,
        therapist_id=lic.therapist_id,
        clinic_id=lic.clinic_id,
        kind=lic.kind,
        jurisdiction=lic.jurisdiction,
        expires_on=lic.expires_on.isoformat() if lic.expires_on else "",
        occurred_at=to_timestamp(at),
    )


def mfa_reset(user_id: str, reset_by: str, at: datetime) -> identity_pb2.MfaReset:
    return identity_pb2.MfaReset(user_id=user_id, reset_by=reset_by, occurred_at=to_timestamp(at))
