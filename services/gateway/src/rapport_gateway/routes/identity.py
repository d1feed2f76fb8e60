"""Clinics, invitations, therapist profiles, licences and the public directory (identity)."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, ConfigDict, Field
from rapport.identity.v1 import identity_pb2 as idpb
from rapport.identity.v1 import identity_pb2_grpc
from rapport.types.v1 import money_pb2

from rapport_gateway.deps import Token, auth, stub
from rapport_gateway.paging import Page, next_cursor, paged
from rapport_gateway.text import Ascii, Line, OptionalLine, Paragraph

DOWNSTREAM = "identity"
router = APIRouter(tags=["identity"])

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
MODALITIES = {"video": idpb.MODALITY_VIDEO, "chat": idpb.MODALITY_CHAT}
MODALITY_NAMES = {v: k for k, v in MODALITIES.items()}
STATUS_NAMES = {
    idpb.LICENSE_STATUS_PENDING: "pending",
    idpb.LICENSE_STATUS_VERIFIED: "verified",
    idpb.LICENSE_STATUS_EXPIRED: "expired",
}
REASON_NAMES = {
    idpb.INELIGIBILITY_REASON_NO_LICENSE_IN_JURISDICTION: "no_license_in_jurisdiction",
    idpb.INELIGIBILITY_REASON_LICENSE_NOT_VERIFIED: "license_not_verified",
    idpb.INELIGIBILITY_REASON_LICENSE_EXPIRED: "license_expired",
    idpb.INELIGIBILITY_REASON_NOT_A_THERAPIST: "not_a_therapist",
}


def identity(request: Request) -> identity_pb2_grpc.IdentityServiceStub:
    return stub(request, DOWNSTREAM, identity_pb2_grpc.IdentityServiceStub)


def rfc3339(ts: Timestamp, present: bool = True) -> str | None:
    return ts.ToDatetime(tzinfo=UTC).isoformat() if present else None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- clinics ---------------------------------------------------------------------------------


class ClinicBody(Strict):
    name: Line = Field(max_length=200)
    currency: Ascii = Field(max_length=3, description="ISO 4217, e.g. EUR")
    timezone: Ascii = Field(max_length=64, description="IANA, e.g. Europe/Paris")
    commission_bps: int = Field(ge=0, le=10_000, description="the clinic's share, basis points")
    cancellation_window_hours: int = Field(ge=0, le=336)
    late_cancellation_fee_minor: int = Field(ge=0, le=100_000_000)
    max_active_bookings_per_therapist: int = Field(
        0, ge=0, le=200, description="a client's active bookings with one therapist; 0: default"
    )
    max_active_bookings_per_client: int = Field(
        0, ge=0, le=200, description="a client's active bookings in the clinic; 0: default"
    )


CLINIC_STATUS_NAMES = {
    idpb.CLINIC_STATUS_PENDING: "pending",
    idpb.CLINIC_STATUS_APPROVED: "approved",
}


class ClinicReply(BaseModel):
    clinic_id: str
    name: str
    currency: str
    timezone: str
    cancellation_window_hours: int
    late_cancellation_fee_minor: int
    max_active_bookings_per_therapist: int
    max_active_bookings_per_client: int
    commission_bps: int | None = Field(
        None, description="the clinic's admin and platform operators only"
    )
    status: Literal["pending", "approved"] | None = Field(
        None,
        description="the clinic's admin and platform operators only: pending until a platform "
        "operator approves the clinic; only an approved clinic's admin may verify licences",
    )
    approved_at: str | None = None


def clinic_reply(c: idpb.Clinic) -> ClinicReply:
    reply = ClinicReply(
        clinic_id=c.clinic_id,
        name=c.name,
        currency=c.currency,
        timezone=c.timezone,
        cancellation_window_hours=c.cancellation_policy.window_hours,
        late_cancellation_fee_minor=c.cancellation_policy.late_fee.amount_minor,
        max_active_bookings_per_therapist=c.booking_limits.per_therapist,
        max_active_bookings_per_client=c.booking_limits.per_client,
    )
    if c.full_view:
        reply.commission_bps = c.commission_bps
        reply.status = CLINIC_STATUS_NAMES.get(c.status, "pending")  # type: ignore[assignment]
        reply.approved_at = rfc3339(c.approved_at, c.HasField("approved_at"))
    return reply


@router.post("/v1/clinics", status_code=201, response_model=ClinicReply)
async def create_clinic(body: ClinicBody, request: Request, token: Token) -> ClinicReply:
    """The caller (a client account that belongs to no clinic) becomes the clinic's admin.
    Their role changes at once; refresh (or sign in again) for a token that says so. The clinic
    is `pending` until a platform operator approves it."""
    reply = await identity(request).CreateClinic(
        idpb.CreateClinicRequest(**body.model_dump()), metadata=auth(token)
    )
    return clinic_reply(reply.clinic)


@router.get("/v1/clinics/{clinic_id}", response_model=ClinicReply)
async def get_clinic(clinic_id: Id, request: Request, token: Token) -> ClinicReply:
    """Any signed-in account sees what a client needs (name, currency, cancellation policy,
    booking limits); commission and vetting status (null for others) only the clinic's admin
    and platform operators."""
    reply = await identity(request).GetClinic(
        idpb.GetClinicRequest(clinic_id=clinic_id), metadata=auth(token)
    )
    return clinic_reply(reply.clinic)


@router.post("/v1/clinics/{clinic_id}/approve", response_model=ClinicReply)
async def approve_clinic(clinic_id: Id, request: Request, token: Token) -> ClinicReply:
    """A platform operator, signed in with multi-factor, approves the clinic after vetting it;
    from then on its admin may verify licences. Approving twice changes nothing."""
    reply = await identity(request).ApproveClinic(
        idpb.ApproveClinicRequest(clinic_id=clinic_id), metadata=auth(token)
    )
    return clinic_reply(reply.clinic)


class TermsBody(Strict):
    """Only the fields given change."""

    commission_bps: int | None = Field(
        None,
        ge=0,
        le=10_000,
        description="the clinic's share of each session's price, basis points: money split "
        "from then on (sessions delivered, late cancellations, no-shows) uses it",
    )
    cancellation_window_hours: int | None = Field(None, ge=0, le=336)
    late_cancellation_fee_minor: int | None = Field(None, ge=0, le=100_000_000)
    max_active_bookings_per_therapist: int | None = Field(
        None, ge=0, le=200, description="a client's active bookings with one therapist; 0: default"
    )
    max_active_bookings_per_client: int | None = Field(
        None, ge=0, le=200, description="a client's active bookings in the clinic; 0: default"
    )


@router.patch("/v1/clinics/{clinic_id}/terms", response_model=ClinicReply)
async def update_clinic_terms(
    clinic_id: Id, body: TermsBody, request: Request, token: Token
) -> ClinicReply:
    """The clinic's admin (or a platform operator with multi-factor) changes its terms. New
    bookings follow them at once; a booked session keeps the cancellation policy it was booked
    under. A new commission applies to money split from then on (billing asks identity for it
    when a session is earned, cancelled late or missed); money already split keeps its split."""
    reply = await identity(request).UpdateClinicTerms(
        idpb.UpdateClinicTermsRequest(clinic_id=clinic_id, **body.model_dump(exclude_none=True)),
        metadata=auth(token),
    )
    return clinic_reply(reply.clinic)


class InvitationBody(Strict):
    email: Line = Field(max_length=254)


class InvitationReply(BaseModel):
    invitation_token: str
    expires_at: str


@router.post("/v1/clinics/{clinic_id}/invitations", status_code=201, response_model=InvitationReply)
async def invite(
    clinic_id: Id, body: InvitationBody, request: Request, token: Token
) -> InvitationReply:
    """The clinic admin invites a therapist; the token is single use and expires."""
    reply = await identity(request).CreateInvitation(
        idpb.CreateInvitationRequest(clinic_id=clinic_id, email=body.email), metadata=auth(token)
    )
    return InvitationReply(
        invitation_token=reply.invitation_token, expires_at=rfc3339(reply.expires_at) or ""
    )


class AcceptReply(BaseModel):
    clinic_id: str


@router.post("/v1/invitations/{invitation_token}/accept", response_model=AcceptReply)
async def accept_invitation(
    invitation_token: Annotated[
        str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    ],
    request: Request,
    token: Token,
) -> AcceptReply:
    """The invited therapist joins the clinic (and their licences go to its admin)."""
    reply = await identity(request).AcceptInvitation(
        idpb.AcceptInvitationRequest(invitation_token=invitation_token), metadata=auth(token)
    )
    return AcceptReply(clinic_id=reply.clinic_id)


# --- licences --------------------------------------------------------------------------------


class LicenseBody(Strict):
    kind: Line = Field(max_length=40, description="psychologist, lpc, lcsw, lmft, coach, ...")
    jurisdiction: Ascii = Field(max_length=10, description="ISO 3166-2, e.g. US-CA")
    number: OptionalLine = Field("", max_length=40)
    expires_on: Ascii = Field("", max_length=10, description="YYYY-MM-DD; valid through that day")


class LicenseReply(BaseModel):
    license_id: str
    therapist_id: str
    clinic_id: str
    kind: str
    jurisdiction: str
    number: str
    expires_on: str | None
    status: Literal["pending", "verified", "expired"]
    prescriber: bool
    scope_note: str | None = Field(
        None, description="for prescriber kinds: Rapport offers no prescribing service"
    )
    verified_at: str | None
    created_at: str


def license_reply(lic: idpb.License) -> LicenseReply:
    return LicenseReply(
        license_id=lic.license_id,
        therapist_id=lic.therapist_id,
        clinic_id=lic.clinic_id,
        kind=lic.kind,
        jurisdiction=lic.jurisdiction,
        number=lic.number,
        expires_on=lic.expires_on or None,
        status=STATUS_NAMES[lic.status],  # type: ignore[arg-type]
        prescriber=lic.prescriber,
        scope_note=lic.scope_note or None,
        verified_at=rfc3339(lic.verified_at, lic.HasField("verified_at")),
        created_at=rfc3339(lic.created_at) or "",
    )


@router.post("/v1/therapists/{therapist_id}/licenses", status_code=201, response_model=LicenseReply)
async def add_license(
    therapist_id: Id, body: LicenseBody, request: Request, token: Token
) -> LicenseReply:
    """The therapist adds a licence; it counts once their clinic's admin verifies it."""
    reply = await identity(request).AddLicense(
        idpb.AddLicenseRequest(therapist_id=therapist_id, **body.model_dump()),
        metadata=auth(token),
    )
    return license_reply(reply.license)


class LicenseList(BaseModel):
    items: list[LicenseReply]
    next_cursor: str | None = None


@router.get("/v1/therapists/{therapist_id}/licenses", response_model=LicenseList)
async def list_licenses(therapist_id: Id, request: Request, token: Token) -> LicenseList:
    """Every licence, any status: the therapist, or the admin of their clinic."""
    reply = await identity(request).ListLicenses(
        idpb.ListLicensesRequest(therapist_id=therapist_id), metadata=auth(token)
    )
    return LicenseList(items=[license_reply(lic) for lic in reply.licenses])


@router.post(
    "/v1/therapists/{therapist_id}/licenses/{license_id}/verify", response_model=LicenseReply
)
async def verify_license(
    therapist_id: Id, license_id: Id, request: Request, token: Token
) -> LicenseReply:
    """By the admin of the therapist's clinic, signed in with multi-factor."""
    reply = await identity(request).VerifyLicense(
        idpb.VerifyLicenseRequest(therapist_id=therapist_id, license_id=license_id),
        metadata=auth(token),
    )
    return license_reply(reply.license)


class EligibilityReply(BaseModel):
    eligible: bool
    reason: str | None
    explanation: str
    license_id: str | None


@router.get("/v1/therapists/{therapist_id}/eligibility", response_model=EligibilityReply)
async def eligibility(
    therapist_id: Id,
    request: Request,
    token: Token,
    jurisdiction: Annotated[Ascii, Query(max_length=10, description="the client's ISO 3166-2")],
) -> EligibilityReply:
    """May this therapist see a client who lives in `jurisdiction`, and if not, why not."""
    reply = await identity(request).CheckEligibility(
        idpb.CheckEligibilityRequest(therapist_id=therapist_id, client_jurisdiction=jurisdiction),
        metadata=auth(token),
    )
    return EligibilityReply(
        eligible=reply.eligible,
        reason=REASON_NAMES.get(reply.reason),
        explanation=reply.explanation,
        license_id=reply.license_id or None,
    )


# --- profiles and the directory --------------------------------------------------------------


class SessionTypeBody(Strict):
    name: Line = Field(max_length=40, description="e.g. intake-50")
    duration_minutes: int = Field(ge=1, le=1440)
    price_minor: int = Field(ge=0, le=100_000_000, description="in the clinic's currency")


class ProfileBody(Strict):
    display_name: Line = Field(max_length=100)
    bio: Paragraph = Field("", max_length=4000)
    languages: list[Ascii] = Field(max_length=20, description="BCP 47 tags, e.g. en, es-MX")
    modalities: list[Literal["video", "chat"]] = Field(max_length=2)
    specialties: list[Line] = Field(max_length=20)
    session_types: list[SessionTypeBody] = Field(max_length=10)


class SessionTypeReply(BaseModel):
    name: str
    duration_minutes: int
    price_minor: int
    currency: str


class ProfileReply(BaseModel):
    therapist_id: str
    clinic_id: str
    display_name: str
    bio: str
    languages: list[str]
    modalities: list[str]
    specialties: list[str]
    session_types: list[SessionTypeReply]
    updated_at: str


def profile_reply(p: idpb.TherapistProfile) -> ProfileReply:
    return ProfileReply(
        therapist_id=p.therapist_id,
        clinic_id=p.clinic_id,
        display_name=p.display_name,
        bio=p.bio,
        languages=list(p.languages),
        modalities=[MODALITY_NAMES[m] for m in p.modalities if m in MODALITY_NAMES],
        specialties=list(p.specialties),
        session_types=[
            SessionTypeReply(
                name=s.name,
                duration_minutes=s.duration_minutes,
                price_minor=s.price.amount_minor,
                currency=s.price.currency,
            )
            for s in p.session_types
        ],
        updated_at=rfc3339(p.updated_at) or "",
    )


@router.put("/v1/therapists/{therapist_id}/profile", response_model=ProfileReply)
async def put_profile(
    therapist_id: Id, body: ProfileBody, request: Request, token: Token
) -> ProfileReply:
    """The therapist's own public profile. Specialties come from a controlled vocabulary;
    prices are integer minor units of the clinic's currency."""
    reply = await identity(request).PutTherapistProfile(
        idpb.PutTherapistProfileRequest(
            therapist_id=therapist_id,
            display_name=body.display_name,
            bio=body.bio,
            languages=body.languages,
            modalities=[MODALITIES[m] for m in body.modalities],
            specialties=body.specialties,
            session_types=[
                idpb.SessionType(
                    name=s.name,
                    duration_minutes=s.duration_minutes,
                    price=money_pb2.Money(amount_minor=s.price_minor),
                )
                for s in body.session_types
            ],
        ),
        metadata=auth(token),
    )
    return profile_reply(reply.profile)


@router.get("/v1/therapists/{therapist_id}/profile", response_model=ProfileReply)
async def get_profile(therapist_id: Id, request: Request, token: Token) -> ProfileReply:
    reply = await identity(request).GetTherapistProfile(
        idpb.GetTherapistProfileRequest(therapist_id=therapist_id), metadata=auth(token)
    )
    return profile_reply(reply.profile)


class DirectoryItem(BaseModel):
    therapist_id: str
    clinic_id: str
    display_name: str
    bio: str
    specialties: list[str]
    languages: list[str]
    modalities: list[str]
    licenses: list[LicenseReply] = Field(description="verified, unexpired licences only")
    session_types: list[SessionTypeReply]


class DirectoryPage(BaseModel):
    items: list[DirectoryItem]
    next_cursor: str | None


@router.get("/v1/therapists", response_model=DirectoryPage)
async def directory(
    request: Request,
    jurisdiction: Annotated[Ascii, Query(max_length=10, description="the client's ISO 3166-2")],
    page: Annotated[Page, paged(20, 100)],
    specialty: Annotated[OptionalLine, Query(max_length=40)] = "",
    language: Annotated[Ascii, Query(max_length=35, description="BCP 47")] = "",
    modality: Literal["video", "chat", ""] = "",
) -> DirectoryPage:
    """Public: therapists eligible to see a client living in `jurisdiction`, with their verified
    licences (legitimacy), never an email."""
    reply = await identity(request).SearchTherapists(
        idpb.SearchTherapistsRequest(
            jurisdiction=jurisdiction,
            specialty=specialty,
            language=language,
            modality=MODALITIES.get(modality, idpb.MODALITY_UNSPECIFIED),
            limit=page.limit,
            cursor=page.cursor,
        )
    )
    items = []
    for entry in reply.items:
        p = profile_reply(entry.profile)
        items.append(
            DirectoryItem(
                **p.model_dump(exclude={"updated_at"}),
                licenses=[license_reply(lic) for lic in entry.licenses],
            )
        )
    return DirectoryPage(items=items, next_cursor=next_cursor(reply.next_cursor))


class ClinicTherapist(BaseModel):
    therapist_id: str
    display_name: str
    licenses: list[LicenseReply]


class ClinicTherapistPage(BaseModel):
    items: list[ClinicTherapist]
    next_cursor: str | None


@router.get("/v1/clinics/{clinic_id}/therapists", response_model=ClinicTherapistPage)
async def clinic_therapists(
    clinic_id: Id,
    request: Request,
    token: Token,
    page: Annotated[Page, paged(20, 100)],
) -> ClinicTherapistPage:
    """The clinic admin's view of their own therapists, every licence status included."""
    reply = await identity(request).ListClinicTherapists(
        idpb.ListClinicTherapistsRequest(clinic_id=clinic_id, limit=page.limit, cursor=page.cursor),
        metadata=auth(token),
    )
    return ClinicTherapistPage(
        items=[
            ClinicTherapist(
                therapist_id=t.therapist_id,
                display_name=t.display_name,
                licenses=[license_reply(lic) for lic in t.licenses],
            )
            for t in reply.items
        ],
        next_cursor=next_cursor(reply.next_cursor),
    )


# --- operations ------------------------------------------------------------------------------


class RotationReply(BaseModel):
    kid: str
    published_kids: list[str]


@router.post("/v1/ops/signing-keys/rotate", response_model=RotationReply, tags=["ops"])
async def rotate_signing_key(request: Request, token: Token) -> RotationReply:
    """Platform operators (multi-factor): a new kid signs; the old one stays in the JWKS until
    the tokens it signed have expired."""
    reply = await identity(request).RotateSigningKey(
        idpb.RotateSigningKeyRequest(), metadata=auth(token)
    )
    return RotationReply(kid=reply.kid, published_kids=list(reply.published_kids))
