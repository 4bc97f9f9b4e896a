"""Enveloped XML-DSig on CEB messages (app.window.signature): RSA-SHA1, RSA-SHA256, SM2-SM3.

Keys and self-signed certificates are made here (session-scoped). cryptography cannot build a
certificate with an SM2 key, and no SM2 library on PyPI builds X.509, so the SM2 certificate is
assembled with the minimal DER encoder below and signed with tongsuopy (SM2 with SM3, default
user id). The SM2 signatures that sign() produces are also checked with an independent pure-Python
SM2 verifier (SM3 from cryptography), which pins down the user id and the r||s encoding.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree
from tongsuopy.crypto import hashes as ts_hashes
from tongsuopy.crypto import serialization as ts_serialization
from tongsuopy.crypto.asymciphers import ec as ts_ec

from app.window.signature import (
    SM2_SM3,
    SM2_SM3_W3,
    Algorithm,
    Certificate,
    SignatureFault,
    load_certificate,
    sign,
    verify,
)
from app.window.xmlsafe import parse_xml
from app.window.xsd import Schemas, default_xsd_dir, load_schemas, schema_set_for
from tests.support.identities import (
    NOT_AFTER,
    NOT_BEFORE,
    Identity,
    make_rsa_identity,
    make_sm2_identity,
    name_of,
)

CEB = "http://www.chinaport.gov.cn/ceb"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"ceb": CEB, "ds": DS}
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
EXPORT_603 = SAMPLES / "export" / "CEB603Message.xml"
IMPORT_621 = SAMPLES / "import" / "CEB621Message.xml"
SHA1_URI = "http://www.w3.org/2000/09/xmldsig#sha1"


@pytest.fixture(scope="session")
def identities() -> dict[str, Identity]:
    return {
        "rsa": make_rsa_identity(0x01691F7F, "湘江报关行 RSA"),
        "sm2": make_sm2_identity(0x03000000000CDE6F, "湘江报关行 SM2"),
        "rsa-other": make_rsa_identity(0x1001, "其他企业 RSA"),
        "sm2-other": make_sm2_identity(0x1002, "其他企业 SM2"),
    }


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    return load_schemas(default_xsd_dir())


SERIAL_HEX = {"rsa": "01691f7f", "sm2": "03000000000cde6f"}
KEY_OF = {Algorithm.RSA_SHA1: "rsa", Algorithm.RSA_SHA256: "rsa", Algorithm.SM2_SM3: "sm2"}
ALGORITHMS = list(Algorithm)


# ---- helpers ----
def load(path: Path) -> etree._Element:
    root = parse_xml(path.read_bytes())
    for old in root.findall("ds:Signature", NS):  # the golden files carry none; just in case
        root.remove(old)
    return root


def signed(path: Path, algorithm: Algorithm, ids: dict[str, Identity]) -> etree._Element:
    root = load(path)
    identity = ids[KEY_OF[algorithm]]
    sign(root, private_key=identity.key_pem, certificate=identity.cert_pem, algorithm=algorithm)
    return root


def ds(root: etree._Element, path: str) -> etree._Element:
    found = root.find("ds:Signature/" + path, NS)
    assert found is not None, path
    return found


def fault(root: etree._Element) -> SignatureFault:
    with pytest.raises(SignatureFault) as info:
        verify(root)
    return info.value


def resign_sm2(
    root: etree._Element, identity: Identity, *, digest: str | None = None, der: bool = False
) -> None:
    """Redo an SM2 signature by hand after the test changed SignedInfo (independent of sign())."""
    reference = ds(root, "ds:SignedInfo/ds:Reference")
    if digest is not None:
        ds(root, "ds:SignedInfo/ds:Reference/ds:DigestMethod").set("Algorithm", digest)
        without = copy.deepcopy(root)
        signature = without.find("ds:Signature", NS)
        assert signature is not None
        previous = signature.getprevious()
        assert previous is not None
        previous.tail = (previous.tail or "") + (signature.tail or "")
        without.remove(signature)
        h = hashes.Hash(hashes.SHA1() if digest == SHA1_URI else hashes.SM3())  # noqa: S303
        h.update(etree.tostring(without.getroottree(), method="c14n", with_comments=False))
        digest_value = reference.find("ds:DigestValue", NS)
        assert digest_value is not None
        digest_value.text = base64.b64encode(h.finalize()).decode()
    key = ts_serialization.load_pem_private_key(identity.key_pem, password=None)
    signed_info = etree.tostring(ds(root, "ds:SignedInfo"), method="c14n", with_comments=False)
    value = key.sign(signed_info, ts_ec.ECDSA(ts_hashes.SM3()))
    if not der:
        value = der_to_raw(value)
    ds(root, "ds:SignatureValue").text = base64.b64encode(value).decode()


def der_to_raw(der: bytes) -> bytes:
    r_len = der[3]
    r = int.from_bytes(der[4 : 4 + r_len], "big")
    s = int.from_bytes(der[6 + r_len :], "big")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# ---- an independent SM2 verifier (GB/T 32918.2), pure Python ----
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)
Point = tuple[int, int] | None


def _add(p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and (p1[1] + p2[1]) % P == 0:
        return None
    if p1 == p2:
        slope = (3 * p1[0] * p1[0] + A) * pow(2 * p1[1], -1, P) % P
    else:
        slope = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, P) % P
    x = (slope * slope - p1[0] - p2[0]) % P
    return x, (slope * (p1[0] - x) - p1[1]) % P


def _mul(k: int, point: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def _sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def reference_sm2_verify(public: bytes, message: bytes, raw: bytes, user_id: bytes) -> bool:
    x_a, y_a = int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big")
    z = _sm3(
        (len(user_id) * 8).to_bytes(2, "big")
        + user_id
        + b"".join(v.to_bytes(32, "big") for v in (A, B, G[0], G[1], x_a, y_a))
    )
    e = int.from_bytes(_sm3(z + message), "big")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    if not (0 < r < N and 0 < s < N) or (r + s) % N == 0:
        return False
    point = _add(_mul(s, G), _mul((r + s) % N, (x_a, y_a)))
    return point is not None and (e + point[0]) % N == r


def test_reference_curve_constants() -> None:
    assert (G[1] ** 2 - G[0] ** 3 - A * G[0] - B) % P == 0
    assert _mul(N, G) is None


# ---- certificates ----
@pytest.mark.parametrize("kind", ["rsa", "sm2"])
def test_load_certificate_pem_and_der(identities: dict[str, Identity], kind: str) -> None:
    identity = identities[kind]
    from_pem = load_certificate(identity.cert_pem)
    assert from_pem == load_certificate(identity.cert_der)
    assert from_pem.der == identity.cert_der
    assert from_pem.key_algorithm == kind
    assert from_pem.subject == identity.subject
    assert "CN=湘江报关行" in from_pem.subject
    assert from_pem.not_before == NOT_BEFORE
    assert from_pem.not_after == NOT_AFTER
    assert from_pem.not_before.tzinfo is not None


def test_serial_is_even_length_lower_hex(identities: dict[str, Identity]) -> None:
    assert load_certificate(identities["rsa"].cert_der).serial == "01691f7f"
    assert load_certificate(identities["sm2"].cert_der).serial == "03000000000cde6f"
    assert load_certificate(identities["rsa-other"].cert_der).serial == "1001"


@pytest.mark.parametrize("data", [b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\nxx"])
def test_load_certificate_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"X\.509"):
        load_certificate(data)


def test_load_certificate_rejects_other_key_types() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = name_of("P-256")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(ValueError, match="SM2 curve"):
        load_certificate(cert.public_bytes(serialization.Encoding.DER))


# ---- signing golden samples ----
@pytest.mark.parametrize("path", [EXPORT_603, IMPORT_621], ids=["CEB603", "CEB621"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_signed_sample_is_schema_valid_and_verifies(
    identities: dict[str, Identity], schemas: Schemas, path: Path, algorithm: Algorithm
) -> None:
    root = signed(path, algorithm, identities)
    identity = identities[KEY_OF[algorithm]]

    assert schemas.validate(root, schema_set_for(root.tag)) == []
    assert root[-1].tag == f"{{{DS}}}Signature"  # no ExtendMessage: last in both sets
    assert ds(root, "ds:KeyInfo/ds:KeyName").text == SERIAL_HEX[KEY_OF[algorithm]]
    cert = verify(root)
    assert isinstance(cert, Certificate)
    assert cert == load_certificate(identity.cert_der)
    assert cert.serial == ds(root, "ds:KeyInfo/ds:KeyName").text
    assert (cert.subject, cert.not_before, cert.not_after) == (
        identity.subject,
        NOT_BEFORE,
        NOT_AFTER,
    )


@pytest.mark.parametrize(
    ("algorithm", "method", "digest"),
    [
        (Algorithm.RSA_SHA1, DS + "rsa-sha1", SHA1_URI),
        (
            Algorithm.RSA_SHA256,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2001/04/xmlenc#sha256",
        ),
        (Algorithm.SM2_SM3, SM2_SM3, "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"),
    ],
)
def test_signature_block(
    identities: dict[str, Identity], algorithm: Algorithm, method: str, digest: str
) -> None:
    root = signed(IMPORT_621, algorithm, identities)
    c14n = ds(root, "ds:SignedInfo/ds:CanonicalizationMethod").get("Algorithm")
    assert c14n == "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    assert ds(root, "ds:SignedInfo/ds:SignatureMethod").get("Algorithm") == method
    reference = ds(root, "ds:SignedInfo/ds:Reference")
    assert reference.get("URI") == ""
    transforms = [t.get("Algorithm") for t in reference.iterfind("ds:Transforms/ds:Transform", NS)]
    assert transforms == [DS + "enveloped-signature"]
    assert ds(root, "ds:SignedInfo/ds:Reference/ds:DigestMethod").get("Algorithm") == digest
    cert_b64 = ds(root, "ds:KeyInfo/ds:X509Data/ds:X509Certificate").text or ""
    assert base64.b64decode(cert_b64) == identities[KEY_OF[algorithm]].cert_der
    value = base64.b64decode(ds(root, "ds:SignatureValue").text or "")
    assert len(value) == (64 if algorithm is Algorithm.SM2_SM3 else 256)


def test_sm2_value_is_raw_rs_with_default_user_id(identities: dict[str, Identity]) -> None:
    root = signed(IMPORT_621, Algorithm.SM2_SM3, identities)
    raw = base64.b64decode(ds(root, "ds:SignatureValue").text or "")
    signed_info = etree.tostring(ds(root, "ds:SignedInfo"), method="c14n", with_comments=False)
    cert = x509.load_der_x509_certificate(identities["sm2"].cert_der)
    point = cert.tbs_certificate_bytes[-65:]  # our test certificates end with the SPKI point
    assert point[0] == 4
    assert reference_sm2_verify(point, signed_info, raw, b"1234567812345678")
    assert not reference_sm2_verify(point, signed_info, raw, b"another user id!")


def test_rsa_value_is_pkcs1_v15_over_canonical_signed_info(identities: dict[str, Identity]) -> None:
    root = signed(EXPORT_603, Algorithm.RSA_SHA256, identities)
    signed_info = etree.tostring(ds(root, "ds:SignedInfo"), method="c14n", with_comments=False)
    assert b'xmlns:ceb="http://www.chinaport.gov.cn/ceb"' in signed_info  # inclusive C14N
    value = base64.b64decode(ds(root, "ds:SignatureValue").text or "")
    key = x509.load_der_x509_certificate(identities["rsa"].cert_der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(value, signed_info, padding.PKCS1v15(), hashes.SHA256())


def test_export_signature_goes_before_extend_message(
    identities: dict[str, Identity], schemas: Schemas
) -> None:
    root = load(EXPORT_603)
    extend = etree.SubElement(root, f"{{{CEB}}}ExtendMessage")
    for name, text in (("name", "ext"), ("version", "1.0")):
        etree.SubElement(extend, f"{{{CEB}}}{name}").text = text
    etree.SubElement(extend, f"{{{CEB}}}Message")
    identity = identities["sm2"]
    sign(
        root,
        private_key=identity.key_pem,
        certificate=identity.cert_der,
        algorithm=Algorithm.SM2_SM3,
    )
    names = [etree.QName(child).localname for child in root]
    assert names[-3:] == ["BaseSubscribe", "Signature", "ExtendMessage"]
    assert schemas.validate(root, schema_set_for(root.tag)) == []
    verify(root)


def test_signing_twice_replaces_the_signature(
    identities: dict[str, Identity], schemas: Schemas
) -> None:
    root = signed(IMPORT_621, Algorithm.RSA_SHA1, identities)
    first = etree.tostring(root)
    identity = identities["sm2"]
    sign(
        root,
        private_key=identity.key_pem,
        certificate=identity.cert_pem,
        algorithm=Algorithm.SM2_SM3,
    )
    assert len(root.findall("ds:Signature", NS)) == 1
    assert verify(root).key_algorithm == "sm2"
    assert schemas.validate(root, schema_set_for(root.tag)) == []
    sign(
        root,
        private_key=identities["rsa"].key_pem,
        certificate=identities["rsa"].cert_pem,
        algorithm=Algorithm.RSA_SHA1,
    )
    # same layout as the first time (RSA PKCS#1 v1.5 is deterministic, so the same bytes)
    assert etree.tostring(root) == first


def test_signed_document_keeps_its_indentation(identities: dict[str, Identity]) -> None:
    root = signed(IMPORT_621, Algorithm.SM2_SM3, identities)
    text = etree.tostring(root, encoding="unicode")
    assert "</ceb:BaseSubscribe>\n    <ds:Signature" in text
    assert text.endswith("</ds:Signature>\n</ceb:CEB621Message>")


def test_sign_rejects_unusable_input(identities: dict[str, Identity]) -> None:
    root = load(IMPORT_621)
    before = etree.tostring(root)
    rsa_id, sm2_id, other = identities["rsa"], identities["sm2"], identities["rsa-other"]
    cases: list[tuple[bytes, bytes, Algorithm, str]] = [
        (rsa_id.key_pem, sm2_id.cert_pem, Algorithm.RSA_SHA1, "RSA certificate"),
        (sm2_id.key_pem, rsa_id.cert_pem, Algorithm.SM2_SM3, "SM2 certificate"),
        (other.key_pem, rsa_id.cert_pem, Algorithm.RSA_SHA256, "does not belong"),
        (identities["sm2-other"].key_pem, sm2_id.cert_pem, Algorithm.SM2_SM3, "does not belong"),
        (b"junk", rsa_id.cert_pem, Algorithm.RSA_SHA1, "private key"),
        (rsa_id.key_pem, sm2_id.cert_pem, Algorithm.SM2_SM3, "SM2 private key|not an SM2 key"),
        (rsa_id.key_pem, b"junk", Algorithm.RSA_SHA1, r"X\.509"),
    ]
    for key, cert, algorithm, message in cases:
        with pytest.raises(ValueError, match=message):
            sign(root, private_key=key, certificate=cert, algorithm=algorithm)
    other_root = etree.fromstring(b"<a/>")
    with pytest.raises(ValueError, match="not a CEB or DXP message"):
        sign(
            other_root,
            private_key=rsa_id.key_pem,
            certificate=rsa_id.cert_pem,
            algorithm=Algorithm.RSA_SHA1,
        )
    assert etree.tostring(root) == before


# ---- verification failures ----
def test_missing_signature() -> None:
    assert fault(load(EXPORT_603)).kind == "missing"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_tampered_field_is_a_mismatch(
    identities: dict[str, Identity], algorithm: Algorithm
) -> None:
    root = signed(IMPORT_621, algorithm, identities)
    price = root.find(".//ceb:InventoryList/ceb:price", NS)
    assert price is not None
    price.text = "1.00"
    assert fault(root).kind == "mismatch"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_tampered_whitespace_is_a_mismatch(
    identities: dict[str, Identity], algorithm: Algorithm
) -> None:
    root = signed(EXPORT_603, algorithm, identities)
    root[0].tail = (root[0].tail or "") + " "
    assert fault(root).kind == "mismatch"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_tampered_signature_value_is_invalid(
    identities: dict[str, Identity], algorithm: Algorithm
) -> None:
    root = signed(IMPORT_621, algorithm, identities)
    element = ds(root, "ds:SignatureValue")
    value = bytearray(base64.b64decode(element.text or ""))
    value[10] ^= 0x01
    element.text = base64.b64encode(bytes(value)).decode()
    found = fault(root)
    assert found.kind == "invalid"
    assert "does not verify" in found.detail


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_tampered_signed_info_is_invalid(
    identities: dict[str, Identity], algorithm: Algorithm
) -> None:
    root = signed(IMPORT_621, algorithm, identities)
    ds(root, "ds:SignedInfo/ds:Reference/ds:DigestValue").text = base64.b64encode(
        bytes(32)
    ).decode()
    assert fault(root).kind == "invalid"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_wrong_certificate_is_invalid(
    identities: dict[str, Identity], algorithm: Algorithm
) -> None:
    root = signed(IMPORT_621, algorithm, identities)
    other = identities[KEY_OF[algorithm] + "-other"]
    ds(root, "ds:KeyInfo/ds:X509Data/ds:X509Certificate").text = base64.b64encode(
        other.cert_der
    ).decode()
    assert fault(root).kind == "invalid"


def test_certificate_of_the_other_key_type_is_invalid(identities: dict[str, Identity]) -> None:
    root = signed(IMPORT_621, Algorithm.SM2_SM3, identities)
    ds(root, "ds:KeyInfo/ds:X509Data/ds:X509Certificate").text = base64.b64encode(
        identities["rsa"].cert_der
    ).decode()
    found = fault(root)
    assert found.kind == "invalid"
    assert "SM2 certificate" in found.detail


@pytest.mark.parametrize(
    ("path", "attribute", "value"),
    [
        ("ds:SignedInfo/ds:SignatureMethod", "Algorithm", DS + "dsa-sha1"),
        (
            "ds:SignedInfo/ds:SignatureMethod",
            "Algorithm",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
        ),
        (
            "ds:SignedInfo/ds:CanonicalizationMethod",
            "Algorithm",
            "http://www.w3.org/2001/10/xml-exc-c14n#",
        ),
        (
            "ds:SignedInfo/ds:Reference/ds:DigestMethod",
            "Algorithm",
            "http://www.w3.org/2001/04/xmlenc#sha512",
        ),
        (
            "ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform",
            "Algorithm",
            "http://www.w3.org/TR/1999/REC-xpath-19991116",
        ),
        ("ds:SignedInfo/ds:Reference", "URI", "#id"),
    ],
)
def test_unsupported_algorithms_are_invalid(
    identities: dict[str, Identity], path: str, attribute: str, value: str
) -> None:
    root = signed(IMPORT_621, Algorithm.RSA_SHA1, identities)
    ds(root, path).set(attribute, value)
    found = fault(root)
    assert found.kind == "invalid"


def test_sm3_digest_with_rsa_is_invalid(identities: dict[str, Identity]) -> None:
    root = signed(IMPORT_621, Algorithm.RSA_SHA1, identities)
    ds(root, "ds:SignedInfo/ds:Reference/ds:DigestMethod").set(
        "Algorithm", "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"
    )
    assert "DigestMethod" in fault(root).detail


@pytest.mark.parametrize(
    "damage",
    [
        lambda sig: sig.remove(sig.find("ds:KeyInfo", NS)),
        lambda sig: sig.remove(sig.find("ds:SignatureValue", NS)),
        lambda sig: sig.find("ds:SignatureValue", NS).__setattr__("text", "***"),
        lambda sig: sig.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS).__setattr__(
            "text", base64.b64encode(b"not a certificate").decode()
        ),
        lambda sig: sig.append(copy.deepcopy(sig.find("ds:SignedInfo", NS))),
    ],
    ids=["no-keyinfo", "no-value", "bad-base64", "bad-cert", "two-signedinfo"],
)
def test_malformed_signature_is_invalid(
    identities: dict[str, Identity], damage: Callable[[etree._Element], object]
) -> None:
    root = signed(IMPORT_621, Algorithm.SM2_SM3, identities)
    signature = root.find("ds:Signature", NS)
    assert signature is not None
    damage(signature)
    assert fault(root).kind == "invalid"


def test_two_signatures_are_invalid(identities: dict[str, Identity]) -> None:
    root = signed(IMPORT_621, Algorithm.SM2_SM3, identities)
    signature = root.find("ds:Signature", NS)
    assert signature is not None
    root.append(copy.deepcopy(signature))
    assert fault(root).kind == "invalid"


def test_verify_does_not_modify_the_document(identities: dict[str, Identity]) -> None:
    good = signed(EXPORT_603, Algorithm.SM2_SM3, identities)
    before = etree.tostring(good)
    verify(good)
    assert etree.tostring(good) == before

    bad = copy.deepcopy(good)
    price = bad.find(".//ceb:price", NS)
    assert price is not None
    price.text = "0"
    tampered = etree.tostring(bad)
    fault(bad)
    assert etree.tostring(bad) == tampered


# ---- tolerated variants ----
def test_sm2_with_sha1_digest_verifies(identities: dict[str, Identity]) -> None:
    root = signed(IMPORT_621, Algorithm.SM2_SM3, identities)
    resign_sm2(root, identities["sm2"], digest=SHA1_URI)
    assert (
        len(base64.b64decode(ds(root, "ds:SignedInfo/ds:Reference/ds:DigestValue").text or ""))
        == 20
    )
    assert verify(root).key_algorithm == "sm2"


def test_w3_sm2_sm3_uri_verifies(identities: dict[str, Identity]) -> None:
    root = signed(EXPORT_603, Algorithm.SM2_SM3, identities)
    ds(root, "ds:SignedInfo/ds:SignatureMethod").set("Algorithm", SM2_SM3_W3)
    assert fault(root).kind == "invalid"  # SignedInfo changed: the old value no longer fits
    resign_sm2(root, identities["sm2"])
    assert verify(root).key_algorithm == "sm2"


def test_eport_ukey_style_signature_verifies(identities: dict[str, Identity]) -> None:
    """What E-Port signing keys send: w3.org sm2-sm3 URI, SHA-1 digest, raw r||s."""
    root = signed(IMPORT_621, Algorithm.SM2_SM3, identities)
    ds(root, "ds:SignedInfo/ds:SignatureMethod").set("Algorithm", SM2_SM3_W3)
    resign_sm2(root, identities["sm2"], digest=SHA1_URI)
    verify(root)


def test_der_encoded_sm2_value_verifies(identities: dict[str, Identity]) -> None:
    root = signed(IMPORT_621, Algorithm.SM2_SM3, identities)
    resign_sm2(root, identities["sm2"], der=True)
    assert base64.b64decode(ds(root, "ds:SignatureValue").text or "")[0] == 0x30
    verify(root)


def test_base64_with_line_breaks_verifies(identities: dict[str, Identity]) -> None:
    root = signed(IMPORT_621, Algorithm.RSA_SHA1, identities)
    for path in ("ds:SignatureValue", "ds:KeyInfo/ds:X509Data/ds:X509Certificate"):
        element = ds(root, path)
        text = element.text or ""
        element.text = "\n" + "\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + "\n"
    verify(root)


# ---- serialisation ----
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bytes_round_trip_verifies(identities: dict[str, Identity], algorithm: Algorithm) -> None:
    root = signed(EXPORT_603, algorithm, identities)
    data = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    again = parse_xml(data)
    assert etree.tostring(again) == etree.tostring(root)
    assert verify(again).key_algorithm == KEY_OF[algorithm]


def test_reindenting_breaks_the_signature(identities: dict[str, Identity]) -> None:
    root = signed(EXPORT_603, Algorithm.SM2_SM3, identities)
    pretty = parse_xml(etree.tostring(root))
    etree.indent(pretty, space="  ")
    # whitespace inside ds:SignedInfo changed as well, so the signature value no longer fits
    assert fault(pretty).kind == "invalid"


@pytest.mark.parametrize("algorithm", [Algorithm.SM2_SM3, Algorithm.RSA_SHA1])
def test_gbk_document_verifies(identities: dict[str, Identity], algorithm: Algorithm) -> None:
    # a message that arrives in GBK: parsed, signed, sent in GBK again, parsed, verified
    gbk = etree.tostring(load(IMPORT_621).getroottree(), xml_declaration=True, encoding="GBK")
    assert gbk.startswith(b"<?xml version='1.0' encoding='GBK'?>")
    root = parse_xml(gbk)
    identity = identities[KEY_OF[algorithm]]
    sign(root, private_key=identity.key_pem, certificate=identity.cert_pem, algorithm=algorithm)
    sent = etree.tostring(root.getroottree(), xml_declaration=True, encoding="GBK")
    assert "湘江报关行".encode("gbk") in sent
    assert verify(parse_xml(sent)).serial == SERIAL_HEX[KEY_OF[algorithm]]
    # the signature covers characters, not bytes: the same message in UTF-8 verifies too
    utf8 = etree.tostring(parse_xml(sent).getroottree(), xml_declaration=True, encoding="UTF-8")
    assert verify(parse_xml(utf8)).serial == SERIAL_HEX[KEY_OF[algorithm]]


def test_fault_text_and_pickling() -> None:
    import pickle

    found = SignatureFault("mismatch", "the digest differs")
    assert str(found) == "mismatch: the digest differs"
    again = pickle.loads(pickle.dumps(found))  # noqa: S301 - our own object
    assert (again.kind, again.detail) == ("mismatch", "the digest differs")


def test_algorithm_given_as_plain_string(identities: dict[str, Identity]) -> None:
    root = load(EXPORT_603)
    identity = identities["sm2"]
    sign(root, private_key=identity.key_pem, certificate=identity.cert_pem, algorithm="sm2-sm3")  # type: ignore[arg-type]
    assert verify(root).key_algorithm == "sm2"
    with pytest.raises(ValueError, match="not a valid Algorithm"):
        sign(root, private_key=identity.key_pem, certificate=identity.cert_pem, algorithm="md5")  # type: ignore[arg-type]
