#!/usr/bin/env python3
"""Verifies a Tollgate audit export (`tollgate-audit-export/v1`) without Tollgate.

Written from docs/audit-format.md, the contract, independently of the Rust verifier, so that CI
(scripts/check-audit-verifier.sh) can check that both read the format the same way.

Usage:
    verify-audit-export.py EXPORT.jsonl --public-key audit-signing.pub [--public-key ...]
                           [--witness cp.json ...] [--json]

What it checks, in the document's order:

* The file: the header line first, then checkpoint lines, then entry lines; each line one JSON
  object with exactly the fields of its type (unknown, missing or duplicate fields are refused).
* The hash chain, entry by entry: entry n stands at position n, and its stored hash is
  SHA-256(hash(n-1) || the UTF-8 bytes of its body string), with hash(0) 32 zero bytes.
* Each body: a JSON object with `v == 1` and `seq == n`. Nothing else of it is read, except
  `action` and `after` of `signing_key.enroll` and `signing_key.rotate` entries, which introduce
  a key (its `key_id` must be the id of its `public_key`).
* Trust: it starts from the --public-key keys only (the export's header key is information).
  A key introduced by entry e becomes trusted at the first checkpoint at tree size t >= e that a
  trusted key signed; a key it `replaces` is trusted only for tree sizes up to t from then on.
* Checkpoints at tree size n: one by a key trusted at n must carry a valid ed25519 signature and
  `head == hash(n)`; checkpoints by other keys are counted and ignored.
* Witnesses (--witness, checkpoints an auditor saved earlier): the log must hold entry
  `tree_size` with hash `head`.
* At the end: no checkpoint validly signed by a key trusted at its size lies beyond the last
  entry (truncation), no witness does either, the header declares exactly the entries read, at
  least one trusted checkpoint verified, and one covers the last entry (an export's unsigned tail
  is 0).

A failure while reading the entries is reported at that entry; otherwise the end checks run in
the document's order and the first that fails is reported. Exit status: 0 when the export
verifies, 1 when it fails verification, 2 on unreadable input (a file that cannot be read, a key
that is not an ed25519 public key in PEM, a witness or an export line not in the format).

With --json it prints {"ok", "entries", "failed_entry", "problem", "checkpoints_verified",
"message"}: `entries` counts the entries that verified, `problem` is one of none, position, hash,
body, key_entry, witness_mismatch, bad_signature, checkpoint_mismatch, truncated,
witness_beyond_end, count_mismatch, no_trusted_checkpoint, unsigned_tail, or, with exit status 2,
unreadable, malformed, bad_key, bad_witness.

Where the document leaves a choice open, this verifier:
* refuses duplicate JSON fields; accepts hex digits of either case in signatures and keys but
  only the lower case in `sha256:` hashes, which the document prescribes;
* does not check a witness's signature (the auditor saved it), ignores checkpoints at tree
  size 0, and keeps a rotated-out key retired even if a later entry enrolls it again.
"""

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

EXPORT_FORMAT = "tollgate-audit-export/v1"
ENTRY_VERSION = 1
KEY_ACTIONS = ("signing_key.enroll", "signing_key.rotate")
# DER of an ed25519 SubjectPublicKeyInfo, up to the 32 key bytes (RFC 8410).
SPKI_ED25519_PREFIX = bytes.fromhex("302a300506032b6570032100")
GENESIS = bytes(32)
U64_LIMIT = 2**64

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
KEY_HEX = re.compile(r"[0-9a-fA-F]{64}")
SIGNATURE_HEX = re.compile(r"[0-9a-fA-F]{128}")


class Unreadable(Exception):
    """Input that cannot be read as what it should be (exit 2). `problem` is a machine word."""

    def __init__(self, problem: str, message: str):
        super().__init__(message)
        self.problem = problem


class VerifyFailure(Exception):
    """The log fails verification at entry `seq` (exit 1). `problem` is a machine word."""

    def __init__(self, seq: int, problem: str, message: str):
        super().__init__(message)
        self.seq = seq
        self.problem = problem


@dataclass
class Checkpoint:
    tree_size: int
    head: str
    signed_at: str
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        """The exact bytes an ed25519 checkpoint signature covers."""
        text = (
            "tollgate audit checkpoint v1\n"
            f"tree_size {self.tree_size}\n"
            f"head {self.head}\n"
            f"signed_at {self.signed_at}\n"
        )
        return text.encode("utf-8")


@dataclass
class Entry:
    seq: int
    hash: str
    body: str


@dataclass
class Export:
    declared_entries: int
    checkpoints: list = field(default_factory=list)
    entries: list = field(default_factory=list)


# --- JSON values and field checks ---------------------------------------------------------


def _refuse_duplicates(pairs):
    """object_pairs_hook: a JSON object naming one field twice is refused, not last-one-wins."""
    seen = {}
    for name, value in pairs:
        if name in seen:
            raise ValueError(f"duplicate field {name!r}")
        seen[name] = value
    return seen


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_object(text: str) -> dict:
    """Parses strict JSON that must be an object; raises ValueError otherwise."""
    value = json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def is_u64(value) -> bool:
    # bool is a subclass of int in Python; JSON true is not an integer.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < U64_LIMIT


def is_str(value) -> bool:
    return isinstance(value, str)


def is_digest(value) -> bool:
    return isinstance(value, str) and DIGEST.fullmatch(value) is not None


def is_timestamp(value) -> bool:
    if not isinstance(value, str) or TIMESTAMP.fullmatch(value) is None:
        return False
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


def is_signature(value) -> bool:
    return isinstance(value, str) and SIGNATURE_HEX.fullmatch(value) is not None


def digest_text(digest: bytes) -> str:
    return "sha256:" + digest.hex()


def key_id_of(public_key: bytes) -> str:
    """A key's name: the first 16 hex digits of SHA-256 over its 32 bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


# --- Reading the export, keys and witnesses ----------------------------------------------

# The fields of each line type, and what each value must be. Exactly these, no others.
LINE_FIELDS = {
    "header": {"format": is_str, "key_id": is_str, "public_key": is_str, "entries": is_u64},
    "checkpoint": {
        "tree_size": is_u64,
        "head": is_digest,
        "signed_at": is_timestamp,
        "key_id": is_str,
        "signature": is_signature,
    },
    "entry": {"seq": is_u64, "hash": is_digest, "body": is_str},
}


def parse_line(text: str, where: str) -> dict:
    """One export line: a JSON object of a known type with exactly that type's fields."""
    try:
        line = parse_object(text)
    except ValueError as error:
        raise Unreadable("malformed", f"{where}: {error}") from None
    kind = line.get("type")
    if not isinstance(kind, str) or kind not in LINE_FIELDS:
        raise Unreadable("malformed", f"{where}: unknown line type {kind!r}")
    spec = LINE_FIELDS[kind]
    names = set(line) - {"type"}
    if names != set(spec):
        unknown, missing = sorted(names - set(spec)), sorted(set(spec) - names)
        raise Unreadable("malformed", f"{where}: unknown fields {unknown}, missing fields {missing}")
    for name, check in spec.items():
        if not check(line[name]):
            raise Unreadable("malformed", f"{where}: field {name!r} is not valid: {line[name]!r}")
    return line


def to_checkpoint(line: dict) -> Checkpoint:
    return Checkpoint(
        tree_size=line["tree_size"],
        head=line["head"],
        signed_at=line["signed_at"],
        key_id=line["key_id"],
        signature=bytes.fromhex(line["signature"]),
    )


def to_entry(line: dict, where: str) -> Entry:
    try:
        line["body"].encode("utf-8")  # a lone surrogate escape (\ud800) has no UTF-8 bytes
    except UnicodeEncodeError:
        raise Unreadable("malformed", f"{where}: the body is not UTF-8 text") from None
    return Entry(seq=line["seq"], hash=line["hash"], body=line["body"])


def parse_export(text: str) -> Export:
    """The header line first, then checkpoint lines, then entry lines; blank lines are skipped."""
    numbered = [(number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if not numbered:
        raise Unreadable("malformed", "the file is empty: no header line")
    first_number, first_line = numbered[0]
    header = parse_line(first_line, f"line {first_number}")
    if header["type"] != "header":
        raise Unreadable("malformed", f"line {first_number}: the first line must be the header")
    if header["format"] != EXPORT_FORMAT:
        raise Unreadable("malformed", f"line {first_number}: unknown format {header['format']!r}")
    export = Export(declared_entries=header["entries"])
    for number, text_line in numbered[1:]:
        where = f"line {number}"
        line = parse_line(text_line, where)
        if line["type"] == "header":
            raise Unreadable("malformed", f"{where}: a second header line")
        if line["type"] == "checkpoint":
            if export.entries:
                raise Unreadable("malformed", f"{where}: checkpoint lines must come before entry lines")
            export.checkpoints.append(to_checkpoint(line))
        else:
            export.entries.append(to_entry(line, where))
    return export


def read_text(path: str, what: str) -> str:
    try:
        with open(path, "rb") as file:
            return file.read().decode("utf-8")
    except OSError as error:
        raise Unreadable("unreadable", f"{what} {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise Unreadable("unreadable", f"{what} {path}: not UTF-8") from None


def read_public_key(path: str) -> bytes:
    """The 32 key bytes of an ed25519 public key in PEM (SubjectPublicKeyInfo)."""
    text = read_text(path, "public key")
    match = re.search(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", text, re.DOTALL)
    if match is None:
        raise Unreadable("bad_key", f"public key {path}: no PEM PUBLIC KEY block")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except binascii.Error:
        raise Unreadable("bad_key", f"public key {path}: the PEM block is not base64") from None
    if len(der) != len(SPKI_ED25519_PREFIX) + 32 or not der.startswith(SPKI_ED25519_PREFIX):
        raise Unreadable("bad_key", f"public key {path}: not an ed25519 SubjectPublicKeyInfo")
    return der[len(SPKI_ED25519_PREFIX) :]


def read_witness(path: str) -> Checkpoint:
    """A witness: one checkpoint line of the export format, as `tollgate audit checkpoint` prints."""
    text = read_text(path, "witness")
    if text.endswith("\n"):
        text = text[:-1]
    try:
        line = parse_line(text, f"witness {path}")
    except Unreadable as error:
        raise Unreadable("bad_witness", str(error)) from None
    if line["type"] != "checkpoint":
        raise Unreadable("bad_witness", f"witness {path}: not a checkpoint line")
    return to_checkpoint(line)


# --- Verification -------------------------------------------------------------------------


@dataclass
class TrustedKey:
    verify_key: VerifyKey
    # Once rotated out: the last tree size this key may vouch for.
    until: int | None = None


@dataclass
class WaitingKey:
    """A key an entry introduced, waiting for a trusted checkpoint to endorse it."""

    seq: int
    key_id: str
    public_key: bytes
    replaces: str | None


def by_tree_size(checkpoints) -> dict:
    grouped = {}
    for checkpoint in checkpoints:
        grouped.setdefault(checkpoint.tree_size, []).append(checkpoint)
    return grouped


def signature_valid(key: VerifyKey, checkpoint: Checkpoint) -> bool:
    try:
        key.verify(checkpoint.message(), checkpoint.signature)
    except CryptoError:
        return False
    return True


def read_key_entry(seq: int, after) -> WaitingKey:
    """The key a signing_key.enroll or .rotate entry introduces; a malformed `after` fails."""

    def malformed(reason: str) -> VerifyFailure:
        return VerifyFailure(seq, "key_entry", f"entry {seq}: malformed key entry: {reason}")

    expected, optional = {"key_id", "label", "public_key", "replaces"}, {"replaces"}
    if not isinstance(after, dict) or not expected - optional <= set(after) <= expected:
        raise malformed(f"`after` must be an object with the fields {sorted(expected)} (`replaces` may be absent)")
    after = {"replaces": None, **after}
    if not is_str(after["key_id"]) or not is_str(after["label"]):
        raise malformed("`key_id` and `label` must be strings")
    if not is_str(after["public_key"]) or KEY_HEX.fullmatch(after["public_key"]) is None:
        raise malformed("`public_key` is not 64 hex digits")
    if after["replaces"] is not None and not is_str(after["replaces"]):
        raise malformed("`replaces` must be a key id or null")
    public_key = bytes.fromhex(after["public_key"])
    if key_id_of(public_key) != after["key_id"]:
        raise malformed(f"key_id {after['key_id']} is not the id of its public_key")
    return WaitingKey(seq, after["key_id"], public_key, after["replaces"])


class Verifier:
    """Verification state while entries are fed in order (the document's steps 1 to 6)."""

    def __init__(self, keys, checkpoints, witnesses):
        self.trusted = {key_id_of(key): TrustedKey(VerifyKey(key)) for key in keys}
        self.waiting = []
        self.checkpoints = by_tree_size(checkpoints)
        self.witnesses = by_tree_size(witnesses)
        self.previous = GENESIS
        self.entries = 0
        self.checkpoints_verified = 0
        self.untrusted_checkpoints = 0
        self.last_trusted = 0  # tree size of the last trusted checkpoint that verified

    def feed(self, n: int, entry: Entry) -> None:
        """Steps 1 to 6 for entry n; raises VerifyFailure."""
        if entry.seq != n:
            message = f"entry {n}: missing (found entry {entry.seq} in its place)"
            raise VerifyFailure(n, "position", message)
        current = hashlib.sha256(self.previous + entry.body.encode("utf-8")).digest()
        head = digest_text(current)
        if entry.hash != head:
            message = f"entry {n}: its stored hash is not the hash of its body after entry {n - 1}"
            raise VerifyFailure(n, "hash", message)
        self.read_body(n, entry.body)
        for witness in self.witnesses.get(n, []):
            if witness.head != head:
                message = f"entry {n}: differs from the witness at tree size {n} (history was rewritten)"
                raise VerifyFailure(n, "witness_mismatch", message)
        self.judge_checkpoints(n, head)
        self.previous = current
        self.entries = n

    def read_body(self, n: int, body: str) -> None:
        """Step 3 (v and seq), and step 4: a key entry's key waits for endorsement."""
        try:
            value = parse_object(body)
        except ValueError as error:
            raise VerifyFailure(n, "body", f"entry {n}: the body is not an entry: {error}") from None
        if not is_u64(value.get("v")) or value["v"] != ENTRY_VERSION:
            raise VerifyFailure(n, "body", f"entry {n}: format version {value.get('v')!r}, expected 1")
        if not is_u64(value.get("seq")) or value["seq"] != n:
            raise VerifyFailure(n, "body", f"entry {n}: its body says seq {value.get('seq')!r}")
        action = value.get("action")
        if isinstance(action, str) and action in KEY_ACTIONS:
            self.waiting.append(read_key_entry(n, value.get("after")))

    def trusted_key(self, checkpoint: Checkpoint, tree_size: int):
        """The key that may vouch for `checkpoint` at `tree_size`, or None."""
        trusted = self.trusted.get(checkpoint.key_id)
        if trusted is None or (trusted.until is not None and tree_size > trusted.until):
            return None
        return trusted.verify_key

    def judge_checkpoints(self, n: int, head: str) -> None:
        """Step 6: judge the checkpoints at tree size n, again while endorsements add trust."""
        remaining = self.checkpoints.pop(n, [])
        while True:
            trusted = [c for c in remaining if self.trusted_key(c, n) is not None]
            if not trusted:
                break
            remaining = [c for c in remaining if self.trusted_key(c, n) is None]
            for checkpoint in trusted:
                if not signature_valid(self.trusted_key(checkpoint, n), checkpoint):
                    message = f"entry {n}: the checkpoint by trusted key {checkpoint.key_id} has a forged signature"
                    raise VerifyFailure(n, "bad_signature", message)
                if checkpoint.head != head:
                    message = f"entry {n}: differs from the checkpoint signed at tree size {n}"
                    raise VerifyFailure(n, "checkpoint_mismatch", message)
                self.checkpoints_verified += 1
                self.last_trusted = n
            self.endorse(n)
        self.untrusted_checkpoints += len(remaining)

    def endorse(self, tree_size: int) -> None:
        """A trusted checkpoint at tree_size endorses every waiting key (all were introduced at or
        before it, since entries are fed in order): each becomes trusted, and the key it replaces
        is trusted only up to tree_size. A rotated-out key is never trusted again beyond that."""
        for waiting in self.waiting:
            replaced = self.trusted.get(waiting.replaces) if waiting.replaces is not None else None
            if replaced is not None:
                replaced.until = tree_size if replaced.until is None else min(replaced.until, tree_size)
            self.trusted.setdefault(waiting.key_id, TrustedKey(VerifyKey(waiting.public_key)))
        self.waiting = []

    def end_failures(self, declared_entries: int) -> list:
        """The end checks 1, 2, 4, 5 and 6 (3 is for databases), each naming an entry: the first
        missing one, the first one beyond the declared count, or the first one not vouched for."""
        entries, failures = self.entries, []

        def fail(seq: int, problem: str, message: str) -> None:
            failures.append(VerifyFailure(seq, problem, f"entry {seq}: {message}"))

        beyond = [c for size, group in self.checkpoints.items() if size > entries for c in group]
        if any(self.vouches(checkpoint) for checkpoint in beyond):
            fail(entries + 1, "truncated", f"missing; a trusted checkpoint covers more than {entries} entries")
        if any(size > entries for size in self.witnesses):
            fail(entries + 1, "witness_beyond_end", f"missing; a witness covers more than {entries} entries")
        if declared_entries != entries:
            message = f"the header declares {declared_entries} entries, the export holds {entries}"
            fail(min(declared_entries, entries) + 1, "count_mismatch", message)
        if entries > 0 and self.checkpoints_verified == 0:
            fail(1, "no_trusted_checkpoint", f"no trusted checkpoint covers any of entries 1 to {entries}")
        if entries > self.last_trusted:
            first = self.last_trusted + 1
            fail(first, "unsigned_tail", f"entries {first} to {entries} follow the last trusted checkpoint (0 may)")
        return failures

    def vouches(self, checkpoint: Checkpoint) -> bool:
        """Whether a checkpoint is validly signed by a key trusted at its tree size."""
        key = self.trusted_key(checkpoint, checkpoint.tree_size)
        return key is not None and signature_valid(key, checkpoint)


@dataclass
class Outcome:
    ok: bool
    entries: int
    failed_entry: int | None
    problem: str
    checkpoints_verified: int
    message: str


def verify(export: Export, keys, witnesses) -> Outcome:
    """Feeds every entry; on the first failure stops there, else runs the end checks."""
    verifier = Verifier(keys, export.checkpoints, witnesses)
    try:
        for n, entry in enumerate(export.entries, start=1):
            verifier.feed(n, entry)
        failures = verifier.end_failures(export.declared_entries)
        if failures:
            # The end checks in the document's order: the first that fails.
            raise failures[0]
    except VerifyFailure as failure:
        message = f"FAILED: {failure}"
        return Outcome(False, verifier.entries, failure.seq, failure.problem, verifier.checkpoints_verified, message)
    message = (
        f"ok: {verifier.entries} entries verified, {verifier.checkpoints_verified} trusted checkpoints verified, "
        f"{verifier.untrusted_checkpoints} by untrusted keys ignored, {len(witnesses)} witnesses matched"
    )
    return Outcome(True, verifier.entries, None, "none", verifier.checkpoints_verified, message)


# --- Command line -------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Verify a Tollgate audit export (tollgate-audit-export/v1).")
    parser.add_argument("export", metavar="EXPORT.jsonl", help="the output of `tollgate audit export`")
    parser.add_argument(
        "--public-key", action="append", required=True, metavar="PEM", help="a trusted key (repeatable)"
    )
    parser.add_argument(
        "--witness", action="append", default=[], metavar="CP.json", help="a saved checkpoint (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    return parser.parse_args(argv)


def print_outcome(outcome: Outcome, as_json: bool, stream) -> None:
    if as_json:
        report = {
            "ok": outcome.ok,
            "entries": outcome.entries,
            "failed_entry": outcome.failed_entry,
            "problem": outcome.problem,
            "checkpoints_verified": outcome.checkpoints_verified,
            "message": outcome.message,
        }
        print(json.dumps(report))
    else:
        print(outcome.message, file=stream)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        keys = [read_public_key(path) for path in args.public_key]
        witnesses = [read_witness(path) for path in args.witness]
        export = parse_export(read_text(args.export, "export"))
    except Unreadable as error:
        outcome = Outcome(False, 0, None, error.problem, 0, f"unreadable: {error}")
        print_outcome(outcome, args.json, sys.stderr)
        return 2
    outcome = verify(export, keys, witnesses)
    print_outcome(outcome, args.json, sys.stdout)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
