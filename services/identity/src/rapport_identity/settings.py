from pydantic import Field
from pydantic_settings import SettingsConfigDict
from rapport_platform.settings import GrpcServiceSettings, VaultSettings


class IdentitySettings(GrpcServiceSettings, VaultSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_IDENTITY_", extra="ignore", frozen=True)

    grpc_port: int = Field(50051, ge=1, le=65535)
    mongo_db: str = "rapport_identity"
    jwt_key_name: str = Field("identity-jwt", description="Vault transit key that signs tokens")
    access_token_ttl_seconds: int = Field(900, ge=60, le=3600)
