"""Sign-up, sign-in and the caller's own account (identity service)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, ConfigDict, Field
from rapport.identity.v1 import identity_pb2 as idpb
from rapport.identity.v1 import identity_pb2_grpc

from rapport_gateway.deps import Token, auth, stub

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
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    role: Literal["client", "therapist"]
    display_name: str = Field(max_length=100)
    jurisdiction: str = Field("", max_length=10, description="ISO 3166-2, e.g. US-CA")


class RegisterReply(BaseModel):
    user_id: str


class LoginBody(Strict):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    totp_code: str = Field("", max_length=10)


class TokenReply(BaseModel):
    access_token: str
    refresh_token: str | None = None
    token_type: str
    expires_in: int


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


@router.post("/v1/auth/register", status_code=201, response_model=RegisterReply)
async def register(body: RegisterBody, request: Request) -> RegisterReply:
    reply = await identity(request).Register(
        idpb.RegisterRequest(
            email=body.email,
            password=body.password,
            role=ROLES[body.role],
            display_name=body.display_name,
            jurisdiction=body.jurisdiction,
        )
    )
    return RegisterReply(user_id=reply.user_id)


@router.post("/v1/auth/login", response_model=TokenReply)
async def login(body: LoginBody, request: Request) -> TokenReply:
    reply = await identity(request).Login(
        idpb.LoginRequest(
            email=body.email,
            password=body.password,
            totp_code=body.totp_code,
            client_address=request.client.host if request.client else "",
        )
    )
    return TokenReply(
        access_token=reply.access_token,
        refresh_token=reply.refresh_token or None,
        token_type=reply.token_type,
        expires_in=reply.expires_in,
    )


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
