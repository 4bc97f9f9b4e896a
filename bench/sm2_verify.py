"""SM2 verification: which Python library? A reproducible micro-benchmark.

Every candidate verifies the same SM2/SM3 signature (default user id "1234567812345678",
GB/T 32918 / GM/T 0009) over the same message: a canonical ds:SignedInfo as app.window.signature
produces it, i.e. exactly what verify() checks for each incoming CEB message. For comparison the
script also times SM3 over a whole CEB message and RSA-2048 PKCS#1 v1.5 verification.

Usage:  /work/venv/bin/python bench/sm2_verify.py [--scale 1.0] [--repeats 5]

Fixed iteration counts (times --scale): 2000 per native library, 20 per pure-Python library
(those take milliseconds per call). Each case runs `repeats` times after one warm-up round;
the best and the median round are printed. Libraries that are not installed are skipped.
Before timing, each library must accept the signature and reject a corrupted one.

Candidates: tongsuopy (Tongsuo, an OpenSSL fork, via a cryptography-style API), gmssl-pyx and
gmssl-fast (GmSSL 3 C extensions), gmssl, gmalg and snowland-smx (pure Python).
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

UID = b"1234567812345678"
# fixed private scalar so that runs are comparable (any valid scalar costs the same to verify)
PRIVATE_SCALAR = (
    int.from_bytes(hashlib.sha256(b"bench/sm2_verify.py").digest(), "big")
    % (0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123 - 1)
    + 1
)

# A canonical SignedInfo (C14N 1.0, in-scope namespaces copied onto the apex, as computed by
# app.window.signature for a CEB621Message); 1 KB, the message SM2 actually signs.
SIGNED_INFO = (
    b'<ds:SignedInfo xmlns:ceb="http://www.chinaport.gov.cn/ceb" '
    b'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    b'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315">'
    b"</ds:CanonicalizationMethod>"
    b'<ds:SignatureMethod Algorithm="http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3">'
    b"</ds:SignatureMethod>"
    b'<ds:Reference URI=""><ds:Transforms>'
    b'<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature">'
    b"</ds:Transform></ds:Transforms>"
    b'<ds:DigestMethod Algorithm="http://www.chinaport.gov.cn/2022/04/xmldsig#sm3">'
    b"</ds:DigestMethod>"
    b"<ds:DigestValue>Ffc1Oy0uS0mBs2o6w3sZpIY9v2oS6yX1o6yQ3x5Ck3Q=</ds:DigestValue>"
    b"</ds:Reference></ds:SignedInfo>"
)

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "samples" / "import" / "CEB621Message.xml"

NATIVE_N = 2000
PURE_N = 20


@dataclass
class Case:
    name: str
    package: str
    kind: str  # "native" | "pure" | "ref"
    op: Callable[[], object]
    iterations: int


def _der_rs(raw: bytes) -> bytes:
    def integer(v: bytes) -> bytes:
        v = v.lstrip(b"\0") or b"\0"
        if v[0] & 0x80:
            v = b"\0" + v
        return b"\x02" + bytes([len(v)]) + v

    body = integer(raw[:32]) + integer(raw[32:])
    return b"\x30" + bytes([len(body)]) + body


def _reference_signature() -> tuple[bytes, bytes]:
    """(public point 04||x||y, raw r||s) for SIGNED_INFO, made by tongsuopy (else gmalg)."""
    try:
        from tongsuopy.crypto import hashes as ts_hashes
        from tongsuopy.crypto import serialization as ts_serialization
        from tongsuopy.crypto.asymciphers import ec as ts_ec
    except ImportError:
        import gmalg

        d = PRIVATE_SCALAR.to_bytes(32, "big")
        pk = gmalg.SM2(sk=d, uid=UID).generate_pk(d)
        r, s = gmalg.SM2(sk=d, uid=UID, pk=pk).sign(SIGNED_INFO)
        return pk, r.rjust(32, b"\0") + s.rjust(32, b"\0")
    key = ts_ec.derive_private_key(PRIVATE_SCALAR, ts_ec.SM2())
    pk = key.public_key().public_bytes(
        ts_serialization.Encoding.X962, ts_serialization.PublicFormat.UncompressedPoint
    )
    der = key.sign(SIGNED_INFO, ts_ec.ECDSA(ts_hashes.SM3()))
    r_len = der[3]
    r = int.from_bytes(der[4 : 4 + r_len], "big")
    s = int.from_bytes(der[6 + r_len :], "big")
    return bytes(pk), r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _check(name: str, good: Callable[[], bool], bad: Callable[[], bool]) -> None:
    if not good():
        raise SystemExit(f"{name}: rejects a valid signature")
    if bad():
        raise SystemExit(f"{name}: accepts a corrupted signature")


def build_cases(scale: float) -> list[Case]:
    native_n = max(1, int(NATIVE_N * scale))
    pure_n = max(1, int(PURE_N * scale))
    pk, raw = _reference_signature()
    xy = pk[1:]
    der = _der_rs(raw)
    bad_raw = raw[:-1] + bytes([raw[-1] ^ 1])
    bad_der = _der_rs(bad_raw)
    cases: list[Case] = []

    try:
        from tongsuopy.crypto import hashes as ts_hashes
        from tongsuopy.crypto.asymciphers import ec as ts_ec
        from tongsuopy.crypto.exceptions import InvalidSignature
    except ImportError:
        pass
    else:
        ts_key = ts_ec.EllipticCurvePublicKey.from_encoded_point(ts_ec.SM2(), pk)
        algo = ts_ec.ECDSA(ts_hashes.SM3())

        def ts_verify(sig: bytes) -> bool:
            try:
                ts_key.verify(sig, SIGNED_INFO, algo)
            except InvalidSignature:
                return False
            return True

        def ts_verify_with_key_load() -> bool:
            key = ts_ec.EllipticCurvePublicKey.from_encoded_point(ts_ec.SM2(), pk)
            try:
                key.verify(der, SIGNED_INFO, algo)
            except InvalidSignature:
                return False
            return True

        _check("tongsuopy", lambda: ts_verify(der), lambda: ts_verify(bad_der))
        cases.append(Case("tongsuopy", "tongsuopy", "native", lambda: ts_verify(der), native_n))
        cases.append(
            Case(
                "tongsuopy, key from point",
                "tongsuopy",
                "native",
                ts_verify_with_key_load,
                native_n,
            )
        )

    try:
        import gmssl_pyx
    except ImportError:
        pass
    else:

        def pyx_verify(sig: bytes) -> bool:
            return bool(gmssl_pyx.sm2_verify(xy, SIGNED_INFO, sig, UID))

        _check("gmssl-pyx", lambda: pyx_verify(der), lambda: pyx_verify(bad_der))
        cases.append(Case("gmssl-pyx", "gmssl-pyx", "native", lambda: pyx_verify(der), native_n))

    try:
        import gmssl_fast
    except ImportError:
        pass
    else:
        fast_key = gmssl_fast.SM2(public_key="04" + xy.hex())

        def fast_verify(sig: bytes) -> bool:
            return bool(fast_key.verify(SIGNED_INFO, sig))

        _check("gmssl-fast", lambda: fast_verify(raw), lambda: fast_verify(bad_raw))
        cases.append(Case("gmssl-fast", "gmssl-fast", "native", lambda: fast_verify(raw), native_n))

    try:
        import gmalg
    except ImportError:
        pass
    else:
        alg = gmalg.SM2(pk=pk, uid=UID)

        def alg_verify(sig: bytes) -> bool:
            return bool(alg.verify(SIGNED_INFO, sig[:32], sig[32:]))

        _check("gmalg", lambda: alg_verify(raw), lambda: alg_verify(bad_raw))
        cases.append(Case("gmalg", "gmalg", "pure", lambda: alg_verify(raw), pure_n))

    try:
        from gmssl import sm2 as gmssl_sm2
    except ImportError:
        pass
    else:
        gm = gmssl_sm2.CryptSM2(private_key="", public_key=xy.hex())

        def gm_verify(sig: bytes) -> bool:
            return bool(gm.verify_with_sm3(sig.hex(), SIGNED_INFO))

        _check("gmssl", lambda: gm_verify(raw), lambda: gm_verify(bad_raw))
        cases.append(Case("gmssl", "gmssl", "pure", lambda: gm_verify(raw), pure_n))

    try:
        from pysmx import SM2 as pysmx_sm2
    except ImportError:
        pass
    else:

        def smx_verify(sig: bytes) -> bool:
            return bool(pysmx_sm2.Verify(sig, SIGNED_INFO, xy, 64, uid=UID))

        _check("snowland-smx", lambda: smx_verify(raw), lambda: smx_verify(bad_raw))
        cases.append(Case("snowland-smx", "snowland-smx", "pure", lambda: smx_verify(raw), pure_n))

    # references: RSA-2048 verify and SM3 over a whole message, with `cryptography`
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pub = rsa_key.public_key()
    for name, algorithm in (
        ("SHA1", hashes.SHA1()),  # noqa: S303 - what CEB RSA signatures use
        ("SHA256", hashes.SHA256()),
    ):
        sig = rsa_key.sign(SIGNED_INFO, padding.PKCS1v15(), algorithm)

        def rsa_verify(sig: bytes = sig, algorithm: hashes.HashAlgorithm = algorithm) -> None:
            rsa_pub.verify(sig, SIGNED_INFO, padding.PKCS1v15(), algorithm)

        cases.append(Case(f"RSA-2048-{name} verify", "cryptography", "ref", rsa_verify, native_n))

    message = SAMPLE.read_bytes() if SAMPLE.is_file() else SIGNED_INFO * 8

    def sm3_digest() -> bytes:
        h = hashes.Hash(hashes.SM3())
        h.update(message)
        return h.finalize()

    cases.append(
        Case(f"SM3 of {len(message)} B message", "cryptography", "ref", sm3_digest, native_n)
    )
    cases.append(
        Case(
            f"SHA-1 of {len(message)} B message",
            "(hashlib)",
            "ref",
            lambda: hashlib.sha1(message).digest(),  # noqa: S324 - benchmark only
            native_n,
        )
    )
    cases.extend(_end_to_end_cases(max(1, native_n // 4)))
    return cases


def _end_to_end_cases(iterations: int) -> list[Case]:
    """app.window.signature.sign()/verify() on the golden CEB621 (C14N, digest, signature).

    Certificates come from the test suite's builders (tests/window/test_signature.py).
    """
    import importlib.util
    import sys

    root_dir = Path(__file__).resolve().parents[1]
    helpers = root_dir / "tests" / "window" / "test_signature.py"
    if not helpers.is_file() or not SAMPLE.is_file():
        return []
    sys.path.insert(0, str(root_dir))
    spec = importlib.util.spec_from_file_location("_signature_test_helpers", helpers)
    if spec is None or spec.loader is None:
        return []
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    from app.window.signature import Algorithm, sign, verify
    from app.window.xmlsafe import parse_xml

    identities = {
        "rsa": module.make_rsa_identity(0x01691F7F, "bench RSA"),
        "sm2": module.make_sm2_identity(0x03000000000CDE6F, "bench SM2"),
    }
    cases = []
    for algorithm in (Algorithm.SM2_SM3, Algorithm.RSA_SHA1):
        identity = identities["sm2" if algorithm is Algorithm.SM2_SM3 else "rsa"]
        root = parse_xml(SAMPLE.read_bytes())

        def do_sign(root: object = root, identity: object = identity, alg: Algorithm = algorithm):
            sign(
                root,  # type: ignore[arg-type]
                private_key=identity.key_pem,  # type: ignore[attr-defined]
                certificate=identity.cert_pem,  # type: ignore[attr-defined]
                algorithm=alg,
            )

        do_sign()
        cases.append(Case(f"sign() CEB621, {algorithm}", "app", "e2e", do_sign, iterations))
        cases.append(
            Case(
                f"verify() CEB621, {algorithm}", "app", "e2e", lambda r=root: verify(r), iterations
            )
        )
    return cases


def run(case: Case, repeats: int) -> tuple[float, float]:
    """(best, median) seconds per operation."""
    for _ in range(max(1, case.iterations // 10)):
        case.op()
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(case.iterations):
            case.op()
        rounds.append((time.perf_counter() - start) / case.iterations)
    return min(rounds), statistics.median(rounds)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply iteration counts")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}")
    print(f"message: {len(SIGNED_INFO)} B canonical SignedInfo; repeats={args.repeats}")
    print()
    print(
        f"| {'case':28} | {'package':12} | {'version':8} | {'kind':6} | {'iter':>5} |"
        f" {'best µs/op':>11} | {'median µs/op':>12} | {'ops/s (best)':>12} |"
    )
    print(
        f"|{'-' * 30}|{'-' * 14}|{'-' * 10}|{'-' * 8}|{'-' * 7}|{'-' * 13}|{'-' * 14}|{'-' * 14}|"
    )
    for case in build_cases(args.scale):
        best, median = run(case, args.repeats)
        print(
            f"| {case.name:28} | {case.package:12} | {_version(case.package):8} |"
            f" {case.kind:6} | {case.iterations:>5} | {best * 1e6:>11.1f} |"
            f" {median * 1e6:>12.1f} | {1 / best:>12.0f} |"
        )


if __name__ == "__main__":
    main()
