"""CEB times are China Standard Time (UTC+8, no daylight saving) written without a zone."""

from datetime import UTC, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")


def parse_app_time(value: str) -> datetime:
    """``YYYYMMDDhhmmss`` in China time → aware UTC; ValueError when it is not a real time."""
    if len(value) != 14 or not value.isdigit():
        raise ValueError(f"{value!r} is not a YYYYMMDDhhmmss time")
    return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=CHINA).astimezone(UTC)


def app_time(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y%m%d%H%M%S")


def return_time(moment: datetime) -> str:
    """``yyyyMMddHHmmssfff`` (milliseconds) in China time, as receipts carry it."""
    local = moment.astimezone(CHINA)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def china_date(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y%m%d")
