"""Enterprise code formats: 10-character customs codes and 18-character USCCs (GB 32100-2015)."""

import re

_CUSTOMS_CODE = re.compile(r"^[0-9A-Z]{10}$")
_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_CHARSET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARSET[(31 - total % 31) % 31]


def code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid enterprise code, or None when it is."""
    if len(code) == 10:
        if _CUSTOMS_CODE.match(code):
            return None
        return "a 10-character customs code has only digits and capital letters"
    if len(code) == 18:
        if not _USCC.match(code):
            return "an 18-character unified social credit code has an invalid character"
        if uscc_check_char(code[:17]) != code[17]:
            return "the unified social credit code's check character is wrong"
        return None
    return "an enterprise code has 10 characters (customs code) or 18 (unified social credit code)"
