#!/usr/bin/env python3
"""Checks Tollgate's DSSE attestations with ed25519 implementations independent of its Rust code.

Usage:
    python3 scripts/check-dsse-interop.py
    python3 scripts/check-dsse-interop.py ENVELOPE.json PUBLIC_KEY.pem

Without arguments it checks the envelope pinned by the snapshot test
`the_envelope_signed_by_a_fixed_key_is_stable` in crates/tollgate-core/src/attestation/tests.rs,
which `tollgate_core::attestation::sign` must reproduce byte for byte. That envelope is signed by
the test key whose seed is 32 bytes of 7, so the script derives the key itself, re-signs the
payload, and expects the very same signature (ed25519 is deterministic). The tests cannot write
the envelope to a file: the core's tidy check forbids file and environment access in its sources.

Either way, it rebuilds the DSSE pre-authentication encoding from the specification and verifies
the signature with `cryptography` (OpenSSL) and, when installed, PyNaCl (libsodium). Needs
`pip install cryptography pynacl`. A manual check, not part of CI.
"""

import base64
import hashlib
import json
import re
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
TESTS = Path(__file__).resolve().parent.parent / "crates/tollgate-core/src/attestation/tests.rs"
PINNED_TEST = "fn the_envelope_signed_by_a_fixed_key_is_stable"
TEST_KEY_SEED = bytes([7] * 32)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, written from the specification."""
    type_bytes = payload_type.encode("utf-8")
    return b" ".join(
        [b"DSSEv1", str(len(type_bytes)).encode(), type_bytes, str(len(payload)).encode(), payload]
    )


def b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional, as DSSE allows."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except ValueError:
        return base64.urlsafe_b64decode(padded)


def pinned_envelope() -> str:
    """The raw-string snapshot in the pinned test, exactly as the test asserts it."""
    source = TESTS.read_text()
    body = source[source.index(PINNED_TEST) :]
    match = re.search(r'@r#"(.*?)"#\)', body, re.DOTALL)
    if match is None:
        sys.exit(f"no inline snapshot found after {PINNED_TEST} in {TESTS}")
    return match.group(1)


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verifiers(public_key: Ed25519PublicKey):
    """(library name, verify(signature, message) raising on failure) per installed library."""
    found = [("cryptography (OpenSSL)", public_key.verify)]
    try:
        from nacl.signing import VerifyKey

        nacl_key = VerifyKey(raw_public_key(public_key))
        found.append(("PyNaCl (libsodium)", lambda sig, msg: nacl_key.verify(msg, sig)))
    except ImportError:
        print("note: PyNaCl is not installed; checking with cryptography only")
    return found


def check(envelope_json: str, public_key: Ed25519PublicKey, failures: list) -> bytes:
    """Verifies every signature of the envelope; returns the payload."""
    envelope = json.loads(envelope_json)
    if envelope["payloadType"] != PAYLOAD_TYPE:
        failures.append(f"payloadType is {envelope['payloadType']!r}")
    payload = b64decode(envelope["payload"])
    message = pae(envelope["payloadType"], payload)
    key_id = hashlib.sha256(raw_public_key(public_key)).hexdigest()[:16]
    if not envelope["signatures"]:
        failures.append("the envelope has no signatures")
    for index, entry in enumerate(envelope["signatures"]):
        if entry.get("keyid", "") != key_id:
            failures.append(f"signatures[{index}].keyid is {entry.get('keyid')!r}, not {key_id}")
        signature = b64decode(entry["sig"])
        tampered = bytearray(message)
        tampered[-2] ^= 1
        for name, verify in verifiers(public_key):
            try:
                verify(signature, message)
                print(f"ok: signatures[{index}] by key {key_id} verifies with {name}")
            except Exception as error:  # noqa: BLE001 - any failure is a failed check
                failures.append(f"signatures[{index}] does not verify with {name}: {error!r}")
            try:
                verify(signature, bytes(tampered))
                failures.append(f"signatures[{index}] verifies a changed payload with {name}")
            except Exception:  # noqa: BLE001 - refusing is the expected outcome
                print(f"ok: a one-byte change to the payload is refused by {name}")

    statement = json.loads(payload)
    if statement.get("_type") != STATEMENT_TYPE:
        failures.append(f"_type is {statement.get('_type')!r}")
    subjects = [
        f"{subject.get('name')}@sha256:{subject.get('digest', {}).get('sha256')}"
        for subject in statement.get("subject", [])
    ]
    print(f"ok: in-toto statement, predicate {statement.get('predicateType')}, subjects {subjects}")
    return payload


def main() -> int:
    failures: list = []
    if len(sys.argv) == 3:
        public_key = serialization.load_pem_public_key(Path(sys.argv[2]).read_bytes())
        if not isinstance(public_key, Ed25519PublicKey):
            sys.exit(f"{sys.argv[2]} is not an ed25519 public key")
        check(Path(sys.argv[1]).read_text(), public_key, failures)
    elif len(sys.argv) == 1:
        private_key = Ed25519PrivateKey.from_private_bytes(TEST_KEY_SEED)
        envelope_json = pinned_envelope()
        payload = check(envelope_json, private_key.public_key(), failures)
        canonical = json.dumps(
            json.loads(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        if canonical.encode("utf-8") != payload:
            failures.append("the payload is not in canonical (sorted, compact) JSON form")
        resigned = base64.b64encode(private_key.sign(pae(PAYLOAD_TYPE, payload))).decode()
        if json.loads(envelope_json)["signatures"][0]["sig"] == resigned:
            print("ok: signing the payload again in Python gives the very same signature")
        else:
            failures.append(f"signing the payload again in Python gives {resigned}")
    else:
        print(__doc__)
        return 2

    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
