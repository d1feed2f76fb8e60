import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rapport.types.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_CLIENT: _ClassVar[Role]
    ROLE_THERAPIST: _ClassVar[Role]
    ROLE_CLINIC_ADMIN: _ClassVar[Role]

class IneligibilityReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INELIGIBILITY_REASON_UNSPECIFIED: _ClassVar[IneligibilityReason]
    INELIGIBILITY_REASON_NO_LICENSE_IN_JURISDICTION: _ClassVar[IneligibilityReason]
    INELIGIBILITY_REASON_LICENSE_NOT_VERIFIED: _ClassVar[IneligibilityReason]
    INELIGIBILITY_REASON_LICENSE_EXPIRED: _ClassVar[IneligibilityReason]
    INELIGIBILITY_REASON_NOT_A_THERAPIST: _ClassVar[IneligibilityReason]

class ClinicStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLINIC_STATUS_UNSPECIFIED: _ClassVar[ClinicStatus]
    CLINIC_STATUS_PENDING: _ClassVar[ClinicStatus]
    CLINIC_STATUS_APPROVED: _ClassVar[ClinicStatus]

class Modality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODALITY_UNSPECIFIED: _ClassVar[Modality]
    MODALITY_VIDEO: _ClassVar[Modality]
    MODALITY_CHAT: _ClassVar[Modality]

class LicenseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LICENSE_STATUS_UNSPECIFIED: _ClassVar[LicenseStatus]
    LICENSE_STATUS_PENDING: _ClassVar[LicenseStatus]
    LICENSE_STATUS_VERIFIED: _ClassVar[LicenseStatus]
    LICENSE_STATUS_EXPIRED: _ClassVar[LicenseStatus]
ROLE_UNSPECIFIED: Role
ROLE_CLIENT: Role
ROLE_THERAPIST: Role
ROLE_CLINIC_ADMIN: Role
INELIGIBILITY_REASON_UNSPECIFIED: IneligibilityReason
INELIGIBILITY_REASON_NO_LICENSE_IN_JURISDICTION: IneligibilityReason
INELIGIBILITY_REASON_LICENSE_NOT_VERIFIED: IneligibilityReason
INELIGIBILITY_REASON_LICENSE_EXPIRED: IneligibilityReason
INELIGIBILITY_REASON_NOT_A_THERAPIST: IneligibilityReason
CLINIC_STATUS_UNSPECIFIED: ClinicStatus
CLINIC_STATUS_PENDING: ClinicStatus
CLINIC_STATUS_APPROVED: ClinicStatus
MODALITY_UNSPECIFIED: Modality
MODALITY_VIDEO: Modality
MODALITY_CHAT: Modality
LICENSE_STATUS_UNSPECIFIED: LicenseStatus
LICENSE_STATUS_PENDING: LicenseStatus
LICENSE_STATUS_VERIFIED: LicenseStatus
LICENSE_STATUS_EXPIRED: LicenseStatus

class User(_message.Message):
    __slots__ = ("user_id", "email", "role", "display_name", "jurisdiction", "clinic_id", "created_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    role: Role
    display_name: str
    jurisdiction: str
    clinic_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., display_name: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., clinic_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("email", "password", "role", "display_name", "jurisdiction", "client_address")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    role: Role
    display_name: str
    jurisdiction: str
    client_address: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., display_name: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("email", "password", "totp_code", "client_address", "device_token")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    TOTP_CODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    totp_code: str
    client_address: str
    device_token: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ..., totp_code: _Optional[str] = ..., client_address: _Optional[str] = ..., device_token: _Optional[str] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("access_token", "refresh_token", "token_type", "expires_in", "device_token")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    device_token: str
    def __init__(self, access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., token_type: _Optional[str] = ..., expires_in: _Optional[int] = ..., device_token: _Optional[str] = ...) -> None: ...

class GetMeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMeResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class GetJwksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class JsonWebKey(_message.Message):
    __slots__ = ("kid", "kty", "crv", "x", "y", "alg", "use")
    KID_FIELD_NUMBER: _ClassVar[int]
    KTY_FIELD_NUMBER: _ClassVar[int]
    CRV_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    USE_FIELD_NUMBER: _ClassVar[int]
    kid: str
    kty: str
    crv: str
    x: str
    y: str
    alg: str
    use: str
    def __init__(self, kid: _Optional[str] = ..., kty: _Optional[str] = ..., crv: _Optional[str] = ..., x: _Optional[str] = ..., y: _Optional[str] = ..., alg: _Optional[str] = ..., use: _Optional[str] = ...) -> None: ...

class GetJwksResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[JsonWebKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[JsonWebKey, _Mapping]]] = ...) -> None: ...

class ListTokenRevocationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TokenRevocation(_message.Message):
    __slots__ = ("user_id", "min_version")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    min_version: int
    def __init__(self, user_id: _Optional[str] = ..., min_version: _Optional[int] = ...) -> None: ...

class ListTokenRevocationsResponse(_message.Message):
    __slots__ = ("revocations",)
    REVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    revocations: _containers.RepeatedCompositeFieldContainer[TokenRevocation]
    def __init__(self, revocations: _Optional[_Iterable[_Union[TokenRevocation, _Mapping]]] = ...) -> None: ...

class CheckEligibilityRequest(_message.Message):
    __slots__ = ("therapist_id", "client_jurisdiction")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    client_jurisdiction: str
    def __init__(self, therapist_id: _Optional[str] = ..., client_jurisdiction: _Optional[str] = ...) -> None: ...

class CheckEligibilityResponse(_message.Message):
    __slots__ = ("eligible", "reason", "explanation", "license_id")
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    eligible: bool
    reason: IneligibilityReason
    explanation: str
    license_id: str
    def __init__(self, eligible: _Optional[bool] = ..., reason: _Optional[_Union[IneligibilityReason, str]] = ..., explanation: _Optional[str] = ..., license_id: _Optional[str] = ...) -> None: ...

class CancellationPolicy(_message.Message):
    __slots__ = ("window_hours", "late_fee")
    WINDOW_HOURS_FIELD_NUMBER: _ClassVar[int]
    LATE_FEE_FIELD_NUMBER: _ClassVar[int]
    window_hours: int
    late_fee: _money_pb2.Money
    def __init__(self, window_hours: _Optional[int] = ..., late_fee: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class Clinic(_message.Message):
    __slots__ = ("clinic_id", "name", "currency", "timezone", "commission_bps", "cancellation_policy", "status", "approved_at", "full_view", "booking_limits", "payment_first")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_BPS_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_POLICY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    APPROVED_AT_FIELD_NUMBER: _ClassVar[int]
    FULL_VIEW_FIELD_NUMBER: _ClassVar[int]
    BOOKING_LIMITS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIRST_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    name: str
    currency: str
    timezone: str
    commission_bps: int
    cancellation_policy: CancellationPolicy
    status: ClinicStatus
    approved_at: _timestamp_pb2.Timestamp
    full_view: bool
    booking_limits: BookingLimits
    payment_first: bool
    def __init__(self, clinic_id: _Optional[str] = ..., name: _Optional[str] = ..., currency: _Optional[str] = ..., timezone: _Optional[str] = ..., commission_bps: _Optional[int] = ..., cancellation_policy: _Optional[_Union[CancellationPolicy, _Mapping]] = ..., status: _Optional[_Union[ClinicStatus, str]] = ..., approved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., full_view: _Optional[bool] = ..., booking_limits: _Optional[_Union[BookingLimits, _Mapping]] = ..., payment_first: _Optional[bool] = ...) -> None: ...

class BookingLimits(_message.Message):
    __slots__ = ("per_therapist", "per_client")
    PER_THERAPIST_FIELD_NUMBER: _ClassVar[int]
    PER_CLIENT_FIELD_NUMBER: _ClassVar[int]
    per_therapist: int
    per_client: int
    def __init__(self, per_therapist: _Optional[int] = ..., per_client: _Optional[int] = ...) -> None: ...

class GetClinicRequest(_message.Message):
    __slots__ = ("clinic_id",)
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    def __init__(self, clinic_id: _Optional[str] = ...) -> None: ...

class GetClinicResponse(_message.Message):
    __slots__ = ("clinic",)
    CLINIC_FIELD_NUMBER: _ClassVar[int]
    clinic: Clinic
    def __init__(self, clinic: _Optional[_Union[Clinic, _Mapping]] = ...) -> None: ...

class SetClinicPaymentFirstRequest(_message.Message):
    __slots__ = ("clinic_id", "payment_first")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIRST_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    payment_first: bool
    def __init__(self, clinic_id: _Optional[str] = ..., payment_first: _Optional[bool] = ...) -> None: ...

class SetClinicPaymentFirstResponse(_message.Message):
    __slots__ = ("clinic",)
    CLINIC_FIELD_NUMBER: _ClassVar[int]
    clinic: Clinic
    def __init__(self, clinic: _Optional[_Union[Clinic, _Mapping]] = ...) -> None: ...

class SessionType(_message.Message):
    __slots__ = ("name", "duration_minutes", "price")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DURATION_MINUTES_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    name: str
    duration_minutes: int
    price: _money_pb2.Money
    def __init__(self, name: _Optional[str] = ..., duration_minutes: _Optional[int] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class TherapistProfile(_message.Message):
    __slots__ = ("therapist_id", "clinic_id", "display_name", "bio", "languages", "modalities", "specialties", "session_types", "updated_at")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    BIO_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    SPECIALTIES_FIELD_NUMBER: _ClassVar[int]
    SESSION_TYPES_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    clinic_id: str
    display_name: str
    bio: str
    languages: _containers.RepeatedScalarFieldContainer[str]
    modalities: _containers.RepeatedScalarFieldContainer[Modality]
    specialties: _containers.RepeatedScalarFieldContainer[str]
    session_types: _containers.RepeatedCompositeFieldContainer[SessionType]
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., display_name: _Optional[str] = ..., bio: _Optional[str] = ..., languages: _Optional[_Iterable[str]] = ..., modalities: _Optional[_Iterable[_Union[Modality, str]]] = ..., specialties: _Optional[_Iterable[str]] = ..., session_types: _Optional[_Iterable[_Union[SessionType, _Mapping]]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTherapistProfileRequest(_message.Message):
    __slots__ = ("therapist_id",)
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    def __init__(self, therapist_id: _Optional[str] = ...) -> None: ...

class GetTherapistProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: TherapistProfile
    def __init__(self, profile: _Optional[_Union[TherapistProfile, _Mapping]] = ...) -> None: ...

class GetBookingContextRequest(_message.Message):
    __slots__ = ("therapist_id",)
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    def __init__(self, therapist_id: _Optional[str] = ...) -> None: ...

class GetBookingContextResponse(_message.Message):
    __slots__ = ("user", "profile", "clinic", "eligibility")
    USER_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CLINIC_FIELD_NUMBER: _ClassVar[int]
    ELIGIBILITY_FIELD_NUMBER: _ClassVar[int]
    user: User
    profile: TherapistProfile
    clinic: Clinic
    eligibility: CheckEligibilityResponse
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., profile: _Optional[_Union[TherapistProfile, _Mapping]] = ..., clinic: _Optional[_Union[Clinic, _Mapping]] = ..., eligibility: _Optional[_Union[CheckEligibilityResponse, _Mapping]] = ...) -> None: ...

class RefreshRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class RefreshResponse(_message.Message):
    __slots__ = ("access_token", "refresh_token", "token_type", "expires_in")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    def __init__(self, access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., token_type: _Optional[str] = ..., expires_in: _Optional[int] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class LogoutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnrollMfaRequest(_message.Message):
    __slots__ = ("password",)
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    password: str
    def __init__(self, password: _Optional[str] = ...) -> None: ...

class EnrollMfaResponse(_message.Message):
    __slots__ = ("secret", "provisioning_uri")
    SECRET_FIELD_NUMBER: _ClassVar[int]
    PROVISIONING_URI_FIELD_NUMBER: _ClassVar[int]
    secret: str
    provisioning_uri: str
    def __init__(self, secret: _Optional[str] = ..., provisioning_uri: _Optional[str] = ...) -> None: ...

class ConfirmMfaRequest(_message.Message):
    __slots__ = ("totp_code",)
    TOTP_CODE_FIELD_NUMBER: _ClassVar[int]
    totp_code: str
    def __init__(self, totp_code: _Optional[str] = ...) -> None: ...

class ConfirmMfaResponse(_message.Message):
    __slots__ = ("mfa_enabled",)
    MFA_ENABLED_FIELD_NUMBER: _ClassVar[int]
    mfa_enabled: bool
    def __init__(self, mfa_enabled: _Optional[bool] = ...) -> None: ...

class ResetMfaRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ResetMfaResponse(_message.Message):
    __slots__ = ("user_id", "was_enrolled")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    WAS_ENROLLED_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    was_enrolled: bool
    def __init__(self, user_id: _Optional[str] = ..., was_enrolled: _Optional[bool] = ...) -> None: ...

class RotateSigningKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateSigningKeyResponse(_message.Message):
    __slots__ = ("kid", "published_kids")
    KID_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_KIDS_FIELD_NUMBER: _ClassVar[int]
    kid: str
    published_kids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kid: _Optional[str] = ..., published_kids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateClinicRequest(_message.Message):
    __slots__ = ("name", "currency", "timezone", "commission_bps", "cancellation_window_hours", "late_cancellation_fee_minor", "max_active_bookings_per_therapist", "max_active_bookings_per_client")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_BPS_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_WINDOW_HOURS_FIELD_NUMBER: _ClassVar[int]
    LATE_CANCELLATION_FEE_MINOR_FIELD_NUMBER: _ClassVar[int]
    MAX_ACTIVE_BOOKINGS_PER_THERAPIST_FIELD_NUMBER: _ClassVar[int]
    MAX_ACTIVE_BOOKINGS_PER_CLIENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    currency: str
    timezone: str
    commission_bps: int
    cancellation_window_hours: int
    late_cancellation_fee_minor: int
    max_active_bookings_per_therapist: int
    max_active_bookings_per_client: int
    def __init__(self, name: _Optional[str] = ..., currency: _Optional[str] = ..., timezone: _Optional[str] = ..., commission_bps: _Optional[int] = ..., cancellation_window_hours: _Optional[int] = ..., late_cancellation_fee_minor: _Optional[int] = ..., max_active_bookings_per_therapist: _Optional[int] = ..., max_active_bookings_per_client: _Optional[int] = ...) -> None: ...

class CreateClinicResponse(_message.Message):
    __slots__ = ("clinic",)
    CLINIC_FIELD_NUMBER: _ClassVar[int]
    clinic: Clinic
    def __init__(self, clinic: _Optional[_Union[Clinic, _Mapping]] = ...) -> None: ...

class CreateInvitationRequest(_message.Message):
    __slots__ = ("clinic_id", "email")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    email: str
    def __init__(self, clinic_id: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class CreateInvitationResponse(_message.Message):
    __slots__ = ("invitation_token", "expires_at")
    INVITATION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    invitation_token: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, invitation_token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AcceptInvitationRequest(_message.Message):
    __slots__ = ("invitation_token",)
    INVITATION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invitation_token: str
    def __init__(self, invitation_token: _Optional[str] = ...) -> None: ...

class AcceptInvitationResponse(_message.Message):
    __slots__ = ("clinic_id",)
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    def __init__(self, clinic_id: _Optional[str] = ...) -> None: ...

class ApproveClinicRequest(_message.Message):
    __slots__ = ("clinic_id",)
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    def __init__(self, clinic_id: _Optional[str] = ...) -> None: ...

class ApproveClinicResponse(_message.Message):
    __slots__ = ("clinic",)
    CLINIC_FIELD_NUMBER: _ClassVar[int]
    clinic: Clinic
    def __init__(self, clinic: _Optional[_Union[Clinic, _Mapping]] = ...) -> None: ...

class UpdateClinicTermsRequest(_message.Message):
    __slots__ = ("clinic_id", "cancellation_window_hours", "late_cancellation_fee_minor", "max_active_bookings_per_therapist", "max_active_bookings_per_client", "commission_bps")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_WINDOW_HOURS_FIELD_NUMBER: _ClassVar[int]
    LATE_CANCELLATION_FEE_MINOR_FIELD_NUMBER: _ClassVar[int]
    MAX_ACTIVE_BOOKINGS_PER_THERAPIST_FIELD_NUMBER: _ClassVar[int]
    MAX_ACTIVE_BOOKINGS_PER_CLIENT_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_BPS_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    cancellation_window_hours: int
    late_cancellation_fee_minor: int
    max_active_bookings_per_therapist: int
    max_active_bookings_per_client: int
    commission_bps: int
    def __init__(self, clinic_id: _Optional[str] = ..., cancellation_window_hours: _Optional[int] = ..., late_cancellation_fee_minor: _Optional[int] = ..., max_active_bookings_per_therapist: _Optional[int] = ..., max_active_bookings_per_client: _Optional[int] = ..., commission_bps: _Optional[int] = ...) -> None: ...

class UpdateClinicTermsResponse(_message.Message):
    __slots__ = ("clinic",)
    CLINIC_FIELD_NUMBER: _ClassVar[int]
    clinic: Clinic
    def __init__(self, clinic: _Optional[_Union[Clinic, _Mapping]] = ...) -> None: ...

class ListClinicTherapistsRequest(_message.Message):
    __slots__ = ("clinic_id", "limit", "cursor")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    limit: int
    cursor: str
    def __init__(self, clinic_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ClinicTherapist(_message.Message):
    __slots__ = ("therapist_id", "display_name", "licenses")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    LICENSES_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    display_name: str
    licenses: _containers.RepeatedCompositeFieldContainer[License]
    def __init__(self, therapist_id: _Optional[str] = ..., display_name: _Optional[str] = ..., licenses: _Optional[_Iterable[_Union[License, _Mapping]]] = ...) -> None: ...

class ListClinicTherapistsResponse(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ClinicTherapist]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[ClinicTherapist, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class PutTherapistProfileRequest(_message.Message):
    __slots__ = ("therapist_id", "display_name", "bio", "languages", "modalities", "specialties", "session_types")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    BIO_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    SPECIALTIES_FIELD_NUMBER: _ClassVar[int]
    SESSION_TYPES_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    display_name: str
    bio: str
    languages: _containers.RepeatedScalarFieldContainer[str]
    modalities: _containers.RepeatedScalarFieldContainer[Modality]
    specialties: _containers.RepeatedScalarFieldContainer[str]
    session_types: _containers.RepeatedCompositeFieldContainer[SessionType]
    def __init__(self, therapist_id: _Optional[str] = ..., display_name: _Optional[str] = ..., bio: _Optional[str] = ..., languages: _Optional[_Iterable[str]] = ..., modalities: _Optional[_Iterable[_Union[Modality, str]]] = ..., specialties: _Optional[_Iterable[str]] = ..., session_types: _Optional[_Iterable[_Union[SessionType, _Mapping]]] = ...) -> None: ...

class PutTherapistProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: TherapistProfile
    def __init__(self, profile: _Optional[_Union[TherapistProfile, _Mapping]] = ...) -> None: ...

class License(_message.Message):
    __slots__ = ("license_id", "therapist_id", "clinic_id", "kind", "jurisdiction", "number", "expires_on", "status", "prescriber", "scope_note", "verified_at", "created_at")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_ON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRESCRIBER_FIELD_NUMBER: _ClassVar[int]
    SCOPE_NOTE_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    therapist_id: str
    clinic_id: str
    kind: str
    jurisdiction: str
    number: str
    expires_on: str
    status: LicenseStatus
    prescriber: bool
    scope_note: str
    verified_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, license_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., kind: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., number: _Optional[str] = ..., expires_on: _Optional[str] = ..., status: _Optional[_Union[LicenseStatus, str]] = ..., prescriber: _Optional[bool] = ..., scope_note: _Optional[str] = ..., verified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AddLicenseRequest(_message.Message):
    __slots__ = ("therapist_id", "kind", "jurisdiction", "number", "expires_on")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_ON_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    kind: str
    jurisdiction: str
    number: str
    expires_on: str
    def __init__(self, therapist_id: _Optional[str] = ..., kind: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., number: _Optional[str] = ..., expires_on: _Optional[str] = ...) -> None: ...

class AddLicenseResponse(_message.Message):
    __slots__ = ("license",)
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    license: License
    def __init__(self, license: _Optional[_Union[License, _Mapping]] = ...) -> None: ...

class VerifyLicenseRequest(_message.Message):
    __slots__ = ("therapist_id", "license_id")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    license_id: str
    def __init__(self, therapist_id: _Optional[str] = ..., license_id: _Optional[str] = ...) -> None: ...

class VerifyLicenseResponse(_message.Message):
    __slots__ = ("license",)
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    license: License
    def __init__(self, license: _Optional[_Union[License, _Mapping]] = ...) -> None: ...

class ListLicensesRequest(_message.Message):
    __slots__ = ("therapist_id",)
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    def __init__(self, therapist_id: _Optional[str] = ...) -> None: ...

class ListLicensesResponse(_message.Message):
    __slots__ = ("licenses",)
    LICENSES_FIELD_NUMBER: _ClassVar[int]
    licenses: _containers.RepeatedCompositeFieldContainer[License]
    def __init__(self, licenses: _Optional[_Iterable[_Union[License, _Mapping]]] = ...) -> None: ...

class SearchTherapistsRequest(_message.Message):
    __slots__ = ("jurisdiction", "specialty", "language", "modality", "limit", "cursor")
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    SPECIALTY_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    jurisdiction: str
    specialty: str
    language: str
    modality: Modality
    limit: int
    cursor: str
    def __init__(self, jurisdiction: _Optional[str] = ..., specialty: _Optional[str] = ..., language: _Optional[str] = ..., modality: _Optional[_Union[Modality, str]] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class DirectoryEntry(_message.Message):
    __slots__ = ("profile", "licenses")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    LICENSES_FIELD_NUMBER: _ClassVar[int]
    profile: TherapistProfile
    licenses: _containers.RepeatedCompositeFieldContainer[License]
    def __init__(self, profile: _Optional[_Union[TherapistProfile, _Mapping]] = ..., licenses: _Optional[_Iterable[_Union[License, _Mapping]]] = ...) -> None: ...

class SearchTherapistsResponse(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[DirectoryEntry]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[DirectoryEntry, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...
