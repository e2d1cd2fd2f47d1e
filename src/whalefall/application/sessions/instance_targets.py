"""Per-instance record work (accounts sync, capacity collection, table sizes): claim-time skips and the
connection target (endpoint + decrypted credential)."""

from __future__ import annotations

from whalefall.application.ports.connectors import ConnectorError
from whalefall.application.ports.instances import CredentialRepository, InstanceRecord
from whalefall.application.ports.security import SecretCipher, credential_associated_data
from whalefall.domain.errors import InvalidStateError
from whalefall.domain.instances import ConnectionTarget
from whalefall.domain.sessions.backoff import ErrorClass


def skip_code(instance: InstanceRecord | None) -> str | None:
    """Claim-time skips of instance work (capacity.md §3.1 step 1): deleted (or purged), then inactive."""
    if instance is None or instance.deleted_at is not None:
        return "INSTANCE_DELETED"
    return None if instance.is_active else "INSTANCE_INACTIVE"


async def connection_target(instance: InstanceRecord, credentials: CredentialRepository,
                            cipher: SecretCipher) -> ConnectionTarget:
    """Decrypt the instance's credential. No credential → CONFIG_ERROR `CREDENTIAL_MISSING`; an undecryptable one
    → CONFIG_ERROR with the cipher's code (never an empty password)."""
    record = await credentials.get(instance.credential.id) if instance.credential is not None else None
    secret = await credentials.get_secret(record.id) if record is not None else None
    if record is None or secret is None:
        raise ConnectorError(ErrorClass.CONFIG_ERROR, "The instance has no credential",
                             error_code="CREDENTIAL_MISSING")
    try:
        plaintext = cipher.decrypt(secret, associated_data=credential_associated_data(record.id))
    except InvalidStateError as exc:
        raise ConnectorError(ErrorClass.CONFIG_ERROR, exc.message, error_code=exc.code) from exc
    return ConnectionTarget(instance_id=instance.id, db_type=instance.db_type, host=instance.host, port=instance.port,
                            database_name=instance.database_name, username=record.username, secret=plaintext,
                            auth_method=record.auth_method)
