"""Settings from the environment (prefix ``SW_``), one object for the whole process."""

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, PositiveFloat, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class OutboxSettings(BaseModel):
    in_process: bool = Field(True, description="serve runs one relay thread beside the API")
    batch_size: int = Field(100, ge=1, le=10_000)
    poll_interval_s: float = Field(0.5, gt=0)
    max_attempts: int = Field(12, ge=1)
    backoff_base_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(600.0, gt=0)


class CustomsSettings(BaseModel):
    match_wait_minutes: int = Field(
        360, ge=1, description="how long a declared list waits for its order, payment, waybill"
    )
    claim_minutes: int = Field(30, ge=1, description="an officer's claim on a list lapses after")


class SlaSettings(BaseModel):
    hours: float = Field(24.0, gt=0, description="time to clear a list once its clock starts")
    hours_by_customs_code: dict[str, PositiveFloat] = Field(
        default_factory=dict, description="per customs code overrides of hours, e.g. {'4900': 12}"
    )
    at_risk_margin_hours: float = Field(4.0, gt=0, description="less than this left: at risk")


class DeliverySettings(BaseModel):
    horizon_hours: float = Field(24.0, gt=0, description="retry a receipt this long, then fail")
    timeout_s: float = Field(10.0, gt=0, description="per callback request")
    backoff_base_s: float = Field(30.0, gt=0)
    backoff_max_s: float = Field(3600.0, gt=0)
    batch_size: int = Field(50, ge=1, le=1000, description="receipts claimed per round")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SW_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    database_url: str = "sqlite:///./singlewindow.db"
    db_pool_size: int = Field(10, ge=1)
    db_echo: bool = False
    admin_key: SecretStr | None = Field(
        None, description="accepted as an admin API key so automation can bootstrap a server"
    )
    xsd_dir: Path = Path(__file__).resolve().parent.parent / "xsd"
    max_message_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_xml_depth: int = Field(64, ge=8, le=256)
    require_signatures: bool = True
    outbox: OutboxSettings = OutboxSettings()
    customs: CustomsSettings = CustomsSettings()
    sla: SlaSettings = SlaSettings()
    delivery: DeliverySettings = DeliverySettings()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
