"""Sign-up, sign-in and the caller's own account (identity service)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, ConfigDict, Field
from rapport.identity.v1 import identity_pb2 as idpb
from rapport.identity.v1 import identity_pb2_grpc
from rapport_platform import service_auth

from rapport_gateway.deps import Token, auth, downstream, stub
from rapport_gateway.text import Ascii, Line, Secret

DOWNSTREAM = "identity"
router = APIRouter(tags=["auth"])

ROLES = {"client": idpb.ROLE_CLIENT, "therapist": idpb.ROLE_THERAPIST}
ROLE_NAMES = {
    idpb.ROLE_CLIENT: "client",
    idpb.ROLE_THERAPIST: "therapist",
    idpb.ROLE_CLINIC_ADMIN: "clinic_admin",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterBody(Strict):
    email: Line = Field(max_length=254)
    password: Secret = Field(max_length=1024)
    role: Literal["client", "therapist"]
    display_name: Line = Field(max_length=100)
    jurisdiction: Ascii = Field("", max_length=10, description="ISO 3166-2, e.g. US-CA")


class RegisterReply(BaseModel):
    user_id: str


class LoginBody(Strict):
    email: Line = Field(max_length=254)
    password: Secret = Field(max_length=1024)
    totp_code: Ascii = Field("", max_length=10)
    device_token: Ascii = Field(
        "",
        max_length=100,
        description="what an earlier sign-in on this device returned: it still signs in while "
        "failures from elsewhere have locked the account",
    )


class TokenReply(BaseModel):
    access_token: str
    refresh_token: str | None = None
    token_type: str
    expires_in: int
    device_token: str | None = Field(
        None, description="sign-in only: keep it on this device, send it at the next sign-in"
    )


class RefreshBody(Strict):
    refresh_token: Ascii = Field(min_length=1, max_length=200)


class MfaEnrolBody(Strict):
    password: Secret = Field(min_length=1, max_length=1024, description="the account password")


class MfaEnrolReply(BaseModel):
    secret: str = Field(description="base32 TOTP secret (shown once)")
    provisioning_uri: str = Field(description="otpauth:// URI for a QR code")


class MfaConfirmBody(Strict):
    totp_code: Ascii = Field(min_length=1, max_length=10)


class MfaConfirmReply(BaseModel):
    mfa_enabled: bool


class MeReply(BaseModel):
    user_id: str
    email: str
    role: str
    display_name: str
    jurisdiction: str
    clinic_id: str


def identity(request: Request) -> identity_pb2_grpc.IdentityServiceStub:
    return stub(request, DOWNSTREAM, identity_pb2_grpc.IdentityServiceStub)


@router.get("/.well-known/jwks.json")
async def jwks(request: Request, response: Response) -> dict[str, object]:
    reply = await identity(request).GetJwks(idpb.GetJwksRequest())
    response.headers["Cache-Control"] = "public, max-age=60"
    return {"keys": [MessageToDict(k, preserving_proto_field_name=True) for k in reply.keys]}


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def as_gateway(request: Request) -> tuple[tuple[str, str], ...]:
    """Proves to identity that the gateway asserts this client address (service_auth)."""
    key = downstream(request).settings.service_token_key
    if not key:
        return ()
    return service_auth.mint(
        key,
        issuer=service_auth.GATEWAY,
        audience=service_auth.IDENTITY,
        claims={"client_address": client_address(request)},
    )


@router.post(
    "/v1/auth/register",
    status_code=201,
    response_model=RegisterReply,
    responses={
        409: {"description": "an account with this email already exists"},
        429: {"description": "too many sign-ups from this address; see Retry-After"},
    },
)
async def register(body: RegisterBody, request: Request) -> RegisterReply:
    """Sign-ups are limited per client address (429 with Retry-After beyond the limit)."""
    reply = await identity(request).Register(
        idpb.RegisterRequest(
            email=body.email,
            password=body.password,
            role=ROLES[body.role],
            display_name=body.display_name,
            jurisdiction=body.jurisdiction,
            client_address=client_address(request),
        ),
        metadata=as_gateway(request),
    )
    return RegisterReply(user_id=reply.user_id)


@router.post(
    "/v1/auth/login",
    response_model=TokenReply,
    responses={429: {"description": "too many failed attempts; see Retry-After"}},
)
async def login(body: LoginBody, request: Request) -> TokenReply:
    """With multi-factor enabled, `totp_code` is required (401 naming the field without it).
    Repeated failures from one address, on one account from one address, and on one account
    slow down, then lock (429). A locked account still lets in the right password with a valid
    code, or from a known device (`device_token`)."""
    reply = await identity(request).Login(
        idpb.LoginRequest(
            email=body.email,
            password=body.password,
            totp_code=body.totp_code,
            client_address=client_address(request),
            device_token=body.device_token,
        ),
        metadata=as_gateway(request),
    )
    return TokenReply(
        access_token=reply.access_token,
        refresh_token=reply.refresh_token or None,
        token_type=reply.token_type,
        expires_in=reply.expires_in,
        device_token=reply.device_token or None,
    )


@router.post("/v1/auth/refresh", response_model=TokenReply)
async def refresh(body: RefreshBody, request: Request) -> TokenReply:
    """Spends the refresh token and returns a new pair. A spent token presented again ends the
    whole sign-in (every token of its family), as a stolen copy would."""
    reply = await identity(request).Refresh(idpb.RefreshRequest(refresh_token=body.refresh_token))
    return TokenReply(
        access_token=reply.access_token,
        refresh_token=reply.refresh_token,
        token_type=reply.token_type,
        expires_in=reply.expires_in,
    )


@router.post("/v1/auth/logout", status_code=204)
async def logout(body: RefreshBody, request: Request) -> Response:
    """Ends the sign-in the refresh token belongs to. Always 204 (nothing to learn from it)."""
    await identity(request).Logout(idpb.LogoutRequest(refresh_token=body.refresh_token))
    return Response(status_code=204)


@router.post("/v1/auth/mfa/enroll", response_model=MfaEnrolReply)
async def mfa_enroll(body: MfaEnrolBody, request: Request, token: Token) -> MfaEnrolReply:
    """Starts TOTP enrolment; nothing changes at login until it is confirmed. Asks for the
    account password again (403 if wrong; wrong passwords count like failed sign-ins), so an
    access token alone cannot enrol an authenticator."""
    reply = await identity(request).EnrollMfa(
        idpb.EnrollMfaRequest(password=body.password), metadata=auth(token)
    )
    return MfaEnrolReply(secret=reply.secret, provisioning_uri=reply.provisioning_uri)


@router.post("/v1/auth/mfa/confirm", response_model=MfaConfirmReply)
async def mfa_confirm(body: MfaConfirmBody, request: Request, token: Token) -> MfaConfirmReply:
    """Confirms enrolment with a current code. Sign in again with a code to get a token that
    carries `mfa: true` (needed to verify licences and read notes)."""
    reply = await identity(request).ConfirmMfa(
        idpb.ConfirmMfaRequest(totp_code=body.totp_code), metadata=auth(token)
    )
    return MfaConfirmReply(mfa_enabled=reply.mfa_enabled)


class MfaResetReply(BaseModel):
    user_id: str
    was_enrolled: bool = Field(description="whether an authenticator was enrolled before")


UserId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post("/v1/users/{user_id}/mfa/reset", response_model=MfaResetReply)
async def mfa_reset(user_id: UserId, request: Request, token: Token) -> MfaResetReply:
    """Someone lost their authenticator. The admin of a therapist's clinic, or a platform
    operator for any account but an operator's, signed in with multi-factor, removes it: every
    session of the account ends (its access and refresh tokens are void) and it signs in with
    its password and enrols again. Audited; `rapport.identity.mfa_reset` tells the notifier."""
    reply = await identity(request).ResetMfa(
        idpb.ResetMfaRequest(user_id=user_id), metadata=auth(token)
    )
    return MfaResetReply(user_id=reply.user_id, was_enrolled=reply.was_enrolled)


@router.get("/v1/me", response_model=MeReply)
async def me(request: Request, token: Token) -> MeReply:
    reply = await identity(request).GetMe(idpb.GetMeRequest(), metadata=auth(token))
    u = reply.user
    return MeReply(
        user_id=u.user_id,
        email=u.email,
        role=ROLE_NAMES.get(u.role, "unknown"),
        display_name=u.display_name,
        jurisdiction=u.jurisdiction,
        clinic_id=u.clinic_id,
    )
