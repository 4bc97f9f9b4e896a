"""The shared base of every DTO, and the bounds of numbers that name rows."""

from pydantic import BaseModel, ConfigDict

# Row ids and cursors fit a signed 64-bit integer in both databases. A larger number names no
# row, and SQLite cannot even bind it (OverflowError), so the API refuses it as invalid input.
MAX_ROW_ID = 2**63 - 1


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")
