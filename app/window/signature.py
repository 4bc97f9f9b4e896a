"""Enveloped XML-DSig for CEB messages (海关跨境电商统一版 202205, §6 签名).

What the standard fixes (spec §6.2, and the 2018 trial spec §6 it carries forward):

- one enveloped ds:Signature, inclusive C14N 1.0 without comments
  (http://www.w3.org/TR/2001/REC-xml-c14n-20010315), one ds:Reference URI="" with the
  enveloped-signature transform, certificates X.509 v3;
- SignatureMethod / DigestMethod, one of: 国密 (preferred)
  http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3 with
  http://www.chinaport.gov.cn/2022/04/xmldsig#sm3, or RSA
  http://www.w3.org/2000/09/xmldsig#rsa-sha1 with http://www.w3.org/2000/09/xmldsig#sha1.
  The 2018 spec also allows SHA-256 + RSA-2048, signed here as
  http://www.w3.org/2001/04/xmldsig-more#rsa-sha256 with http://www.w3.org/2001/04/xmlenc#sha256;
- KeyInfo: KeyName (2018 §6: "KeyName 节点必填，填写企业证书序列号" - the enterprise
  certificate's serial number) and X509Data/X509Certificate (base64 DER).

What the standard leaves open, and what this module does:

- KeyName format. The spec's example is "0001" while its example certificate's serial is
  0x9927, so the example is illustrative. An open-source client of E-Port's signing keys
  (Weasley-J/chinaport-data-signature) shows the key's certNo "01691f7f" and "03000000000cde6f"
  for certificates with exactly those serials: lower-case hex, an even number of digits. sign()
  writes that form and Certificate.serial uses it too. verify() does not check KeyName: it sits
  outside SignedInfo (unsigned); the certificate in X509Data is what is verified.
- SM2 signature value encoding. Not stated. GB/T 35276 defines a DER SEQUENCE {r, s}; the same
  client's SM2 SignatureValue examples (from the E-Port key, accepted by customs) are raw 64-byte
  r||s. sign() writes raw r||s, the form customs demonstrably accepts; verify() accepts both.
- SM2 user id: not stated, so the GM/T 0009 default "1234567812345678" (Z = SM3(ENTL || ID ||
  a || b || xG || yG || xA || yA), then SM3(Z || M)).
- Tolerated when verifying, as deployed signers send them (that client's SM2 output uses both):
  the SignatureMethod http://www.w3.org/2000/09/xmldsig#sm2-sm3 for SM2-SM3, and a SHA-1
  DigestMethod with SM2.
  RSA signatures may be paired with a SHA-1 or SHA-256 digest; RSA keys must have >= 1024 bits
  (E-Port RSA certificates are RSA-1024). An RSA value one byte too long or short (leading zero
  added or dropped by some signers) is normalised.

Verification order: structure and algorithms, then the signature over SignedInfo, then the
reference digest. A broken signature value is reported as "invalid" (验签失败) even if the data
were changed too: without a valid signature the DigestValue itself cannot be trusted; with a
valid one, a digest that differs means the signed data were changed ("mismatch", 加签数据比对失败).

Limitation: the SignedInfo canonical form gets the in-scope namespace declarations (inclusive
C14N) but not xml:* attributes inherited from ancestors (xml:lang on the message root). CEB
messages carry none; the schemas do not allow them.

SM2/SM3 signing and verification use tongsuopy (Tongsuo); RSA, SM3/SHA digests and certificate
parsing use cryptography. cryptography cannot load SM2 keys, so the SM2 public point is read
from the certificate's SubjectPublicKeyInfo with the small DER reader below.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import PublicKeyAlgorithmOID
from lxml import etree
from tongsuopy.crypto import (  # type: ignore[import-untyped]
    exceptions as ts_exceptions,
)
from tongsuopy.crypto import hashes as ts_hashes
from tongsuopy.crypto import serialization as ts_serialization
from tongsuopy.crypto.asymciphers import ec as ts_ec  # type: ignore[import-untyped]

from app.window.xsd import CEB_NS, DS_NS, SchemaSet, schema_set_for

# ---- algorithm identifiers ----
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SM2_SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"
SM2_SM3_W3 = "http://www.w3.org/2000/09/xmldsig#sm2-sm3"  # tolerated when verifying
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"

# GM/T 0009 default user id. tongsuopy applies it implicitly when it signs or verifies with an
# SM2 key; tests/window/test_signature.py checks that with an independent SM2 implementation.
SM2_DEFAULT_USER_ID = b"1234567812345678"

KeyAlgorithm = Literal["rsa", "sm2"]
FaultKind = Literal["missing", "mismatch", "invalid"]


class Algorithm(StrEnum):
    RSA_SHA1 = "rsa-sha1"
    RSA_SHA256 = "rsa-sha256"
    SM2_SM3 = "sm2-sm3"


# what sign() writes: (SignatureMethod, DigestMethod)
_SIGNING: dict[Algorithm, tuple[str, str]] = {
    Algorithm.RSA_SHA1: (RSA_SHA1, SHA1),
    Algorithm.RSA_SHA256: (RSA_SHA256, SHA256),
    Algorithm.SM2_SM3: (SM2_SM3, SM3),
}
# what verify() accepts: SignatureMethod -> (key algorithm, hash of the signature, digests)
_VERIFYING: dict[str, tuple[KeyAlgorithm, str, frozenset[str]]] = {
    RSA_SHA1: ("rsa", "sha1", frozenset({SHA1, SHA256})),
    RSA_SHA256: ("rsa", "sha256", frozenset({SHA256, SHA1})),
    SM2_SM3: ("sm2", "sm3", frozenset({SM3, SHA1})),
    SM2_SM3_W3: ("sm2", "sm3", frozenset({SM3, SHA1})),
}
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    SHA1: hashes.SHA1,
    SHA256: hashes.SHA256,
    SM3: hashes.SM3,
}
_RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}

_DS = "{" + DS_NS + "}"
_SIGNATURE_TAG = _DS + "Signature"
_EXTEND_MESSAGE_TAG = "{" + CEB_NS + "}ExtendMessage"
_MIN_RSA_BITS = 1024


# ---- public types ----
@dataclass(frozen=True)
class Certificate:
    """An X.509 signer certificate.

    serial: lower-case hex, even number of digits (the KeyName form, e.g. "01691f7f");
    subject: RFC 4514; not_before / not_after: aware UTC datetimes.
    """

    serial: str
    der: bytes
    subject: str
    not_before: datetime
    not_after: datetime
    key_algorithm: KeyAlgorithm


class SignatureFault(Exception):
    """Verification failed.

    kind: "missing"  - the message has no ds:Signature (as a child of its root);
          "mismatch" - the signature is valid but the digest of the signed data differs
                       (the data were changed after signing; 加签数据比对失败);
          "invalid"  - the signature does not verify with the embedded certificate, or the
                       signature block is malformed or uses an unsupported algorithm (验签失败).
    """

    def __init__(self, kind: FaultKind, detail: str) -> None:
        super().__init__(kind, detail)
        self.kind: FaultKind = kind
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


# ---- certificates ----
def load_certificate(data: bytes) -> Certificate:
    """Parse a PEM or DER X.509 certificate with an RSA or SM2 public key.

    Raises ValueError (with what was wrong) for anything else.
    """
    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(text)
        else:
            cert = x509.load_der_x509_certificate(data)
        der = cert.public_bytes(serialization.Encoding.DER)
        serial = cert.serial_number
        subject = cert.subject.rfc4514_string()
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    except ValueError as exc:
        raise ValueError(f"not an X.509 certificate (PEM or DER): {exc}") from exc
    if serial < 0:
        raise ValueError("certificate serial number is negative")
    return Certificate(
        serial=_hex_serial(serial),
        der=der,
        subject=subject,
        not_before=not_before,
        not_after=not_after,
        key_algorithm=_key_algorithm(cert, der),
    )


def _hex_serial(serial: int) -> str:
    digits = f"{serial:x}"
    return digits.zfill(len(digits) + len(digits) % 2)


def _key_algorithm(cert: x509.Certificate, der: bytes) -> KeyAlgorithm:
    oid = cert.public_key_algorithm_oid
    if oid == PublicKeyAlgorithmOID.RSAES_PKCS1_v1_5:
        return "rsa"
    if oid.dotted_string in (_OID_EC_PUBLIC_KEY, _OID_SM2):
        _sm2_point(der)  # raises ValueError unless the key is on the SM2 curve
        return "sm2"
    raise ValueError(f"unsupported certificate key algorithm {oid.dotted_string} (need RSA or SM2)")


# ---- a minimal DER reader (SM2 public keys, SM2 signature values) ----
_OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_OID_SM2 = "1.2.156.10197.1.301"
_SM2_CURVE_OID_DER = bytes.fromhex("06082a811ccf5501822d")  # OID 1.2.156.10197.1.301
_EC_PUBLIC_KEY_OID_DER = bytes.fromhex("06072a8648ce3d0201")  # OID 1.2.840.10045.2.1
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def _der_next(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at pos (single-byte tags only)."""
    if pos + 2 > end:
        raise ValueError("truncated DER")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise ValueError("non-minimal DER length")
        pos += count
    if pos + length > end:
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _der_children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        tag, cstart, cend = _der_next(data, start, end)
        out.append((tag, cstart, cend))
        start = cend
    return out


def _sm2_point(cert_der: bytes) -> bytes:
    """The uncompressed SM2 public point (04 || x || y) of a certificate."""
    tag, start, end = _der_next(cert_der, 0, len(cert_der))
    if tag != 0x30:
        raise ValueError("certificate is not a DER SEQUENCE")
    tbs_tag, tbs_start, tbs_end = _der_next(cert_der, start, end)
    fields = [f for f in _der_children(cert_der, tbs_start, tbs_end) if f[0] != 0xA0]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
    if tbs_tag != 0x30 or len(fields) < 6 or fields[5][0] != 0x30:
        raise ValueError("malformed TBSCertificate")
    spki = _der_children(cert_der, fields[5][1], fields[5][2])
    if len(spki) != 2 or spki[0][0] != 0x30 or spki[1][0] != 0x03:
        raise ValueError("malformed SubjectPublicKeyInfo")
    alg = cert_der[spki[0][1] : spki[0][2]]
    sm2_ids = (_EC_PUBLIC_KEY_OID_DER + _SM2_CURVE_OID_DER, _SM2_CURVE_OID_DER)
    if not any(alg == ids or alg == ids + b"\x05\x00" for ids in sm2_ids):
        raise ValueError("EC public key is not on the SM2 curve")
    bits = cert_der[spki[1][1] : spki[1][2]]
    if len(bits) != 66 or bits[0] != 0 or bits[1] != 0x04:
        raise ValueError("SM2 public key is not an uncompressed 256-bit point")
    return bits[1:]


def _sm2_rs(value: bytes) -> tuple[int, int]:
    """(r, s) from a DER SEQUENCE {r, s} or a raw 64-byte r || s."""
    if value[:1] == b"\x30":
        try:
            _tag, start, end = _der_next(value, 0, len(value))
            parts = _der_children(value, start, end)
        except ValueError:
            parts = []
            end = -1
        if end == len(value) and len(parts) == 2 and all(p[0] == 0x02 for p in parts):
            r, s = (int.from_bytes(value[p[1] : p[2]], "big", signed=True) for p in parts)
            return r, s
    if len(value) == 64:
        return int.from_bytes(value[:32], "big"), int.from_bytes(value[32:], "big")
    raise ValueError(
        f"SM2 signature value is neither DER (r, s) nor 64 bytes r||s ({len(value)} B)"
    )


def _der_rs(r: int, s: int) -> bytes:
    def integer(v: int) -> bytes:
        body = v.to_bytes(v.bit_length() // 8 + 1, "big")
        return b"\x02" + bytes([len(body)]) + body

    content = integer(r) + integer(s)
    return b"\x30" + bytes([len(content)]) + content


# ---- SM2 via tongsuopy (untyped) behind a narrow typed interface ----
def _sm2_verify(point: bytes, value: bytes, data: bytes) -> bool:
    """SM2 with SM3 and the default user id; value is DER or raw r||s."""
    try:
        r, s = _sm2_rs(value)
    except ValueError:
        return False
    if not (0 < r < _SM2_N and 0 < s < _SM2_N):
        return False
    try:
        key: Any = ts_ec.EllipticCurvePublicKey.from_encoded_point(ts_ec.SM2(), point)
    except ValueError as exc:
        raise ValueError(f"SM2 public key: {exc}") from exc
    try:
        key.verify(_der_rs(r, s), data, ts_ec.ECDSA(ts_hashes.SM3()))
    except (ts_exceptions.InvalidSignature, ts_exceptions.InternalError):
        return False
    return True


class _Sm2Signer:
    def __init__(self, pem: bytes) -> None:
        try:
            key: Any = ts_serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, ts_exceptions.UnsupportedAlgorithm) as exc:
            raise ValueError(f"cannot load the SM2 private key (PEM, unencrypted): {exc}") from exc
        if not isinstance(key, ts_ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
            raise ValueError("the private key is not an SM2 key")
        self._key = key

    def public_point(self) -> bytes:
        point = self._key.public_key().public_bytes(
            ts_serialization.Encoding.X962, ts_serialization.PublicFormat.UncompressedPoint
        )
        return bytes(point)

    def sign(self, data: bytes) -> bytes:
        """Raw 64-byte r || s."""
        der = bytes(self._key.sign(data, ts_ec.ECDSA(ts_hashes.SM3())))
        r, s = _sm2_rs(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# ---- canonicalisation and digests ----
def _c14n(node: etree._Element | etree._ElementTree) -> bytes:
    return etree.tostring(node, method="c14n", exclusive=False, with_comments=False)


def _digest(data: bytes, digest_uri: str) -> bytes:
    h = hashes.Hash(_DIGESTS[digest_uri]())
    h.update(data)
    return h.finalize()


def _document_without(root: etree._Element, signature: etree._Element) -> bytes:
    """C14N of root's whole document with `signature` (a child of root) taken out.

    That is the enveloped-signature transform on URI="": text around the signature stays.
    Works on a copy; the caller's tree is not touched.
    """
    tree = copy.deepcopy(root.getroottree())
    copy_root = tree.getroot()
    copy_sig = copy_root[root.index(signature)]
    _remove_keeping_text(copy_sig)
    return _c14n(tree)


def _remove_keeping_text(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is None:
        raise ValueError("cannot remove the root element")
    tail = element.tail or ""
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(element)


def _document_root(root: etree._Element) -> None:
    if root.getparent() is not None:
        raise ValueError("expected the document's root element (the CEB message)")


# ---- verify ----
@dataclass(frozen=True)
class _Parsed:
    signed_info: etree._Element
    signature_method: str
    digest_method: str
    digest_value: bytes
    signature_value: bytes
    certificate: bytes


def _b64(element: etree._Element | None, what: str) -> bytes:
    if element is None:
        raise SignatureFault("invalid", f"no {what}")
    text = "".join((element.text or "").split())
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureFault("invalid", f"{what} is not base64") from exc
    if not value:
        raise SignatureFault("invalid", f"{what} is empty")
    return value


def _one(parent: etree._Element, name: str, where: str) -> etree._Element:
    found = parent.findall(_DS + name)
    if len(found) != 1:
        raise SignatureFault("invalid", f"expected one ds:{name} in {where}, found {len(found)}")
    return found[0]


def _parse(signature: etree._Element) -> _Parsed:
    signed_info = _one(signature, "SignedInfo", "ds:Signature")
    c14n = _one(signed_info, "CanonicalizationMethod", "ds:SignedInfo").get("Algorithm")
    if c14n != C14N:
        raise SignatureFault("invalid", f"unsupported CanonicalizationMethod {c14n!r}")
    method = _one(signed_info, "SignatureMethod", "ds:SignedInfo").get("Algorithm") or ""
    if method not in _VERIFYING:
        raise SignatureFault("invalid", f"unsupported SignatureMethod {method!r}")
    reference = _one(signed_info, "Reference", "ds:SignedInfo")
    if reference.get("URI") != "":
        raise SignatureFault(
            "invalid", f'ds:Reference URI must be "", not {reference.get("URI")!r}'
        )
    transforms = [t.get("Algorithm") for t in reference.iterfind(f"{_DS}Transforms/{_DS}Transform")]
    if ENVELOPED_SIGNATURE not in transforms:
        raise SignatureFault("invalid", "ds:Reference lacks the enveloped-signature transform")
    unsupported = [t for t in transforms if t not in (ENVELOPED_SIGNATURE, C14N)]
    if unsupported:
        raise SignatureFault("invalid", f"unsupported Transform {unsupported[0]!r}")
    digest_method = _one(reference, "DigestMethod", "ds:Reference").get("Algorithm") or ""
    if digest_method not in _VERIFYING[method][2]:
        raise SignatureFault(
            "invalid", f"unsupported DigestMethod {digest_method!r} with SignatureMethod {method!r}"
        )
    certificates = signature.findall(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509Certificate")
    if len(certificates) != 1:
        raise SignatureFault(
            "invalid", f"expected one ds:X509Certificate in ds:KeyInfo, found {len(certificates)}"
        )
    return _Parsed(
        signed_info=signed_info,
        signature_method=method,
        digest_method=digest_method,
        digest_value=_b64(_one(reference, "DigestValue", "ds:Reference"), "ds:DigestValue"),
        signature_value=_b64(signature.find(_DS + "SignatureValue"), "ds:SignatureValue"),
        certificate=_b64(certificates[0], "ds:X509Certificate"),
    )


def _verify_rsa(cert_der: bytes, hash_name: str, value: bytes, data: bytes) -> bool:
    key = x509.load_der_x509_certificate(cert_der).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("certificate key is not RSA")
    if key.key_size < _MIN_RSA_BITS:
        raise ValueError(f"RSA key of {key.key_size} bits is too short")
    size = (key.key_size + 7) // 8
    if len(value) == size + 1 and value[0] == 0:
        value = value[1:]
    elif len(value) == size - 1:
        value = b"\0" + value
    try:
        key.verify(value, data, padding.PKCS1v15(), _RSA_HASHES[hash_name]())
    except InvalidSignature:
        return False
    return True


def verify(root: etree._Element) -> Certificate:
    """Verify the enveloped ds:Signature that is a child of root (the message's root element).

    Returns the certificate embedded in ds:KeyInfo, which produced the signature; whether it
    belongs to the sender and was valid at message time is for the caller to check.
    Raises SignatureFault; root is not modified. (ValueError when root is not the document
    element: a programming error, not a property of the message.)
    """
    _document_root(root)
    signatures = [child for child in root if child.tag == _SIGNATURE_TAG]
    if not signatures:
        raise SignatureFault("missing", "the message has no ds:Signature")
    if len(signatures) > 1:
        raise SignatureFault("invalid", f"the message has {len(signatures)} ds:Signature elements")
    signature = signatures[0]
    parsed = _parse(signature)
    try:
        certificate = load_certificate(parsed.certificate)
    except ValueError as exc:
        raise SignatureFault("invalid", f"ds:X509Certificate: {exc}") from exc
    key_algorithm, hash_name, _ = _VERIFYING[parsed.signature_method]
    if certificate.key_algorithm != key_algorithm:
        raise SignatureFault(
            "invalid",
            f"SignatureMethod {parsed.signature_method} needs an {key_algorithm.upper()} "
            f"certificate, the embedded one has an {certificate.key_algorithm.upper()} key",
        )
    signed_info = _c14n(parsed.signed_info)
    try:
        if key_algorithm == "sm2":
            ok = _sm2_verify(_sm2_point(certificate.der), parsed.signature_value, signed_info)
        else:
            ok = _verify_rsa(certificate.der, hash_name, parsed.signature_value, signed_info)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureFault("invalid", f"signer certificate: {exc}") from exc
    if not ok:
        raise SignatureFault(
            "invalid", "ds:SignatureValue does not verify with the embedded certificate"
        )
    digest = _digest(_document_without(root, signature), parsed.digest_method)
    if not hmac.compare_digest(digest, parsed.digest_value):
        raise SignatureFault(
            "mismatch", "the digest of the signed data differs from ds:DigestValue"
        )
    return certificate


# ---- sign ----
def _signature_index(root: etree._Element) -> int:
    """Where ds:Signature goes among root's children, per the root's schema set."""
    try:
        schema_set = schema_set_for(root.tag)
    except KeyError:
        raise ValueError(f"cannot sign {root.tag}: not a CEB or DXP message root") from None
    if schema_set is SchemaSet.EXPORT:
        # export: BaseTransfer, BaseSubscribe*, ds:Signature?, ExtendMessage?
        for index, child in enumerate(root):
            if child.tag == _EXTEND_MESSAGE_TAG:
                return index
    # import: ..., ExtendMessage?, ds:Signature; DXP: ds:Signature last
    return len(root)


def _is_blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _detach(element: etree._Element) -> None:
    """Remove an old signature together with the indentation before it."""
    previous = element.getprevious()
    parent = element.getparent()
    if parent is None:
        raise ValueError("cannot remove the root element")
    if previous is not None and _is_blank(previous.tail) and _is_blank(element.tail):
        previous.tail = element.tail
    elif previous is None and _is_blank(parent.text) and _is_blank(element.tail):
        parent.text = element.tail
    else:
        _remove_keeping_text(element)
        return
    parent.remove(element)


def _insert(root: etree._Element, index: int, element: etree._Element) -> None:
    """Insert at index, copying the indentation of the surrounding children."""
    if index > 0 and _is_blank(root[index - 1].tail):
        previous = root[index - 1]
        indent = root[index - 2].tail if index > 1 else root.text
        element.tail = previous.tail
        if _is_blank(indent):
            previous.tail = indent
    elif index == 0 and _is_blank(root.text):
        element.tail = root.text
    root.insert(index, element)


def _sub(parent: etree._Element, name: str, algorithm: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _DS + name)
    if algorithm is not None:
        element.set("Algorithm", algorithm)
    return element


def sign(
    root: etree._Element, *, private_key: bytes, certificate: bytes, algorithm: Algorithm
) -> None:
    """Add an enveloped ds:Signature to the message root (replacing any there).

    private_key: PEM (PKCS#8 or traditional), unencrypted; certificate: PEM or DER, matching
    the key. The signature goes where the root's schema set puts it: before ceb:ExtendMessage
    in the export set, last in the import and DXP sets. Raises ValueError for an unusable key or
    certificate, a key that does not belong to the certificate, or a root that is not a message.
    """
    _document_root(root)
    algorithm = Algorithm(algorithm)  # also accepts the plain string values
    cert = load_certificate(certificate)
    method, digest_method = _SIGNING[algorithm]
    signer = _signer(private_key, cert, algorithm)
    _signature_index(root)  # a root that is no message fails here, before anything changes

    for old in [child for child in root if child.tag == _SIGNATURE_TAG]:
        _detach(old)
    index = _signature_index(root)

    signature = etree.Element(_SIGNATURE_TAG, nsmap={"ds": DS_NS})
    signed_info = _sub(signature, "SignedInfo")
    _sub(signed_info, "CanonicalizationMethod", C14N)
    _sub(signed_info, "SignatureMethod", method)
    reference = _sub(signed_info, "Reference")
    reference.set("URI", "")
    _sub(_sub(reference, "Transforms"), "Transform", ENVELOPED_SIGNATURE)
    _sub(reference, "DigestMethod", digest_method)
    digest_value = _sub(reference, "DigestValue")
    signature_value = _sub(signature, "SignatureValue")
    key_info = _sub(signature, "KeyInfo")
    _sub(key_info, "KeyName").text = cert.serial
    _sub(_sub(key_info, "X509Data"), "X509Certificate").text = base64.b64encode(cert.der).decode()
    _insert(root, index, signature)

    digest = _digest(_document_without(root, signature), digest_method)
    digest_value.text = base64.b64encode(digest).decode()
    signature_value.text = base64.b64encode(signer(_c14n(signed_info))).decode()


# Loaded keys are cached: cryptography checks an RSA private key on load (~25 ms for 2048 bits),
# far more than the signature itself. Failures are not cached.
@functools.lru_cache(maxsize=16)
def _rsa_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"cannot load the RSA private key (PEM, unencrypted): {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the private key is not an RSA key")
    return key


@functools.lru_cache(maxsize=16)
def _sm2_signer(pem: bytes) -> _Sm2Signer:
    return _Sm2Signer(pem)


def _signer(
    private_key: bytes, cert: Certificate, algorithm: Algorithm
) -> Callable[[bytes], bytes]:
    """The signing function (SignedInfo bytes -> signature value), checked against the cert."""
    if algorithm is Algorithm.SM2_SM3:
        if cert.key_algorithm != "sm2":
            raise ValueError("sm2-sm3 needs an SM2 certificate")
        sm2 = _sm2_signer(private_key)
        if sm2.public_point() != _sm2_point(cert.der):
            raise ValueError("the private key does not belong to the certificate")
        return sm2.sign
    if cert.key_algorithm != "rsa":
        raise ValueError(f"{algorithm} needs an RSA certificate")
    key = _rsa_private_key(private_key)
    public = x509.load_der_x509_certificate(cert.der).public_key()
    if not isinstance(public, rsa.RSAPublicKey) or public.public_numbers() != (
        key.public_key().public_numbers()
    ):
        raise ValueError("the private key does not belong to the certificate")
    hash_type = hashes.SHA1 if algorithm is Algorithm.RSA_SHA1 else hashes.SHA256

    def rsa_sign(data: bytes) -> bytes:
        return key.sign(data, padding.PKCS1v15(), hash_type())

    return rsa_sign
