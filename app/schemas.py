"""The shared base of every DTO, and the limits of what the databases can store."""

from pydantic import BaseModel, ConfigDict, field_validator

# Row ids and cursors fit a signed 64-bit integer in both databases. A larger number names no
# row, and SQLite cannot even bind it (OverflowError), so the API refuses it as invalid input.
MAX_ROW_ID = 2**63 - 1
NUL = "\x00"


def contains_nul(value: object) -> bool:
    """Whether a string anywhere in the value holds NUL, which PostgreSQL text and JSONB reject."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(contains_nul(item) for item in value)
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    return False


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        if contains_nul(value):
            raise ValueError("text cannot contain NUL (U+0000)")
        return value
