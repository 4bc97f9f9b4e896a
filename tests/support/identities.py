"""Signing identities for tests: RSA and SM2 keys with self-signed X.509 certificates.

cryptography cannot build a certificate with an SM2 key, and no SM2 library on PyPI builds
X.509, so the SM2 certificate is assembled with the minimal DER encoder below and signed with
tongsuopy (SM2 with SM3, default user id).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from tongsuopy.crypto import hashes as ts_hashes
from tongsuopy.crypto import serialization as ts_serialization
from tongsuopy.crypto.asymciphers import ec as ts_ec

NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2028, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Identity:
    key_pem: bytes
    cert_pem: bytes
    cert_der: bytes
    serial: int
    subject: str


def name_of(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "湘江报关行"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def make_rsa_identity(serial: int, common_name: str) -> Identity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = name_of(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Identity(key_pem, _pem(der), der, serial, name.rfc4514_string())


# minimal DER encoder, enough for an X.509 v3 certificate
def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytes([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, body)


def _bits(data: bytes) -> bytes:
    return _tlv(0x03, b"\0" + data)


def _time(t: datetime) -> bytes:
    return _tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())  # UTCTime (years < 2050)


OID_SM2_SM3 = "1.2.156.10197.1.501"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SM2 = "1.2.156.10197.1.301"


def make_sm2_identity(serial: int, common_name: str) -> Identity:
    key = ts_ec.generate_private_key(ts_ec.SM2())
    point = key.public_key().public_bytes(
        ts_serialization.Encoding.X962, ts_serialization.PublicFormat.UncompressedPoint
    )
    name = name_of(common_name)
    name_der = name.public_bytes()
    algorithm = _seq(_oid(OID_SM2_SM3))
    tbs = _seq(
        _tlv(0xA0, _int(2)),  # v3
        _int(serial),
        algorithm,
        name_der,
        _seq(_time(NOT_BEFORE), _time(NOT_AFTER)),
        name_der,
        _seq(_seq(_oid(OID_EC_PUBLIC_KEY), _oid(OID_SM2)), _bits(point)),
    )
    signature = key.sign(tbs, ts_ec.ECDSA(ts_hashes.SM3()))  # DER (r, s), default user id
    der = _seq(tbs, algorithm, _bits(signature))
    key_pem = key.private_bytes(
        ts_serialization.Encoding.PEM,
        ts_serialization.PrivateFormat.PKCS8,
        ts_serialization.NoEncryption(),
    )
    return Identity(key_pem, _pem(der), der, serial, name.rfc4514_string())
