#!/usr/bin/env python3
"""Builds forged variants of an intact Tollgate audit export, for scripts/check-audit-verifier.sh.

Usage:
    forge-audit-export.py OUT_DIR --export audit.jsonl --witness cp.json --stolen-key audit-signing.key

`--stolen-key` is the server's ORIGINAL private key (PKCS#8 PEM, copied before the rotation):
some variants play an attacker who stole it. Writes OUT_DIR/<variant>.jsonl and a manifest,
OUT_DIR/variants.tsv, one variant a line: name, file, whether to verify with the witness
(yes/no), the outcome docs/audit-format.md expects (`ok`, `fail@N` naming entry N, or `error` for
a file that is not an export), and what was forged.

The intact export must come from the check script's scenario: a root key enrolled at entry 1,
some team.create entries, a witness taken, one `signing_key.rotate`, more entries, then the
export (so a trusted checkpoint covers its last entry). Expected entries are computed here from
what each forgery did, following the document, not by running a verifier.
"""

import argparse
import base64
import hashlib
import json
import re
import sys
from pathlib import Path

from nacl.signing import SigningKey

GENESIS = bytes(32)


# --- Reading and writing exports ----------------------------------------------------------


def read_export(path: Path):
    """(header, checkpoint lines, entry lines), each line a dict."""
    lines = [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines() if text]
    header = lines[0]
    checkpoints = [line for line in lines if line["type"] == "checkpoint"]
    entries = [line for line in lines if line["type"] == "entry"]
    return header, checkpoints, entries


def write_export(path: Path, header: dict, checkpoints: list, entries: list) -> None:
    """One JSON object a line, compact, as `tollgate audit export` writes them."""
    lines = [header, *checkpoints, *entries]
    text = "".join(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")


def with_count(header: dict, entries: int) -> dict:
    return {**header, "entries": entries}


# --- Forging tools ------------------------------------------------------------------------


def canonical(value) -> str:
    """Canonical JSON for the bodies forged here (ASCII keys: sorting by code point suffices)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def edit_body(entry: dict, **changes) -> dict:
    body = json.loads(entry["body"])
    body.update(changes)
    return {**entry, "body": canonical(body)}


def rechain(entries: list) -> list:
    """Recomputes every stored hash from the bodies, as a forger who rewrites the chain does."""
    previous, chained = GENESIS, []
    for entry in entries:
        current = hashlib.sha256(previous + entry["body"].encode("utf-8")).digest()
        chained.append({**entry, "hash": "sha256:" + current.hex()})
        previous = current
    return chained


def renumber(entries: list) -> list:
    """Line `seq` fields follow the lines' new order (the bodies keep theirs)."""
    return [{**entry, "seq": n} for n, entry in enumerate(entries, start=1)]


def read_signing_key(path: Path) -> SigningKey:
    """The seed of an ed25519 PKCS#8 private key in PEM: the 32 bytes after its OCTET STRING."""
    text = path.read_text()
    block = re.search(r"-----BEGIN PRIVATE KEY-----(.*?)-----END", text, re.S).group(1)
    der = base64.b64decode("".join(block.split()))
    marker = bytes.fromhex("06032b657004220420")  # OID 1.3.101.112, then OCTET STRING { OCTET STRING (32) }
    start = der.index(marker) + len(marker)
    return SigningKey(der[start : start + 32])


def sign_checkpoint(key: SigningKey, entry: dict) -> dict:
    """A checkpoint line over `entry`'s position and hash, written from the document."""
    signed_at = "2030-01-01T00:00:00.000000Z"
    message = f"tollgate audit checkpoint v1\ntree_size {entry['seq']}\nhead {entry['hash']}\nsigned_at {signed_at}\n"
    return {
        "type": "checkpoint",
        "tree_size": entry["seq"],
        "head": entry["hash"],
        "signed_at": signed_at,
        "key_id": hashlib.sha256(bytes(key.verify_key)).hexdigest()[:16],
        "signature": key.sign(message.encode()).signature.hex(),
    }


def flip_signature(checkpoint: dict) -> dict:
    """The same checkpoint with one bit of its signature's first byte flipped."""
    signature = bytearray.fromhex(checkpoint["signature"])
    signature[0] ^= 0x01
    return {**checkpoint, "signature": signature.hex()}


def forged_team(template: dict, seq: int, name: str) -> dict:
    """A team.create entry at `seq`, made from a real one (its hash is set by rechain)."""
    team = {**json.loads(template["body"])["after"], "name": name, "display_name": name}
    return {**edit_body(template, seq=seq, after=team, actor="mallory"), "seq": seq}


def checkpoints_up_to(checkpoints: list, size: int) -> list:
    return [checkpoint for checkpoint in checkpoints if checkpoint["tree_size"] <= size]


def last_checkpoint_below(checkpoints: list, size: int) -> int:
    return max(checkpoint["tree_size"] for checkpoint in checkpoints if checkpoint["tree_size"] < size)


def action_of(entry: dict) -> str:
    return json.loads(entry["body"])["action"]


# --- The variants -------------------------------------------------------------------------


class Scenario:
    """The intact export and the positions the forgeries aim at."""

    def __init__(self, export: Path, witness: Path, stolen_key: Path):
        self.header, self.checkpoints, self.entries = read_export(export)
        self.witness_size = json.loads(witness.read_text())["tree_size"]
        self.stolen = read_signing_key(stolen_key)
        self.intruder = SigningKey(hashlib.sha256(b"an intruder's key").digest())
        self.n = len(self.entries)
        actions = [action_of(entry) for entry in self.entries]
        if "signing_key.rotate" not in actions or len({c["key_id"] for c in self.checkpoints}) < 2:
            sys.exit("the export must hold a signing_key.rotate entry and checkpoints by two keys")
        self.rotation = actions.index("signing_key.rotate") + 1
        # The entry most forgeries edit: the first team.create (an ordinary record).
        self.k = actions.index("team.create") + 1
        self.team = self.entries[self.k - 1]
        self.first_checkpoint_from_k = min(c["tree_size"] for c in self.checkpoints if c["tree_size"] >= self.k)

    def variant(self, name, expected, what, checkpoints=None, entries=None, header=None, witness=False):
        entries = self.entries if entries is None else entries
        header = with_count(self.header, len(entries)) if header is None else header
        checkpoints = self.checkpoints if checkpoints is None else checkpoints
        return {"name": name, "lines": (header, checkpoints, entries), "witness": witness,
                "expected": expected, "what": what}

    def replaced(self, seq: int, entry: dict) -> list:
        """The entries with entry `seq` replaced, and every hash from there on recomputed."""
        return rechain([entry if n == seq else e for n, e in enumerate(self.entries, start=1)])


def chain_variants(s: Scenario) -> list:
    k = s.k
    edited = s.replaced(k, edit_body(s.team, actor="mallory"))
    swapped = s.entries[: k - 1] + [s.entries[k], s.entries[k - 1]] + s.entries[k + 1 :]
    rotation = s.entries[s.rotation - 1]
    bad_after = {**json.loads(rotation["body"])["after"], "key_id": "0123456789abcdef"}
    return [
        s.variant("a-intact", "ok", "the export as tollgate wrote it"),
        s.variant("b-edit-rechain-drop-checkpoints", "fail@1", f"entry {k} edited, later hashes recomputed, "
                  "every checkpoint line deleted: no trusted checkpoint covers anything",
                  checkpoints=[], entries=edited),
        s.variant("c-edit-rechain-keep-checkpoints", f"fail@{s.first_checkpoint_from_k}", f"entry {k} edited, later "
                  "hashes recomputed: the first checkpoint at or after it no longer matches", entries=edited),
        s.variant("f1-swap-lines", f"fail@{k}", f"entry lines {k} and {k + 1} swapped: position check",
                  entries=swapped),
        s.variant("f2-swap-renumber", f"fail@{k}", f"entries {k} and {k + 1} swapped, line seq renumbered: "
                  "hash check", entries=renumber(swapped)),
        s.variant("f3-swap-renumber-rechain", f"fail@{k}", f"entries {k} and {k + 1} swapped, renumbered, hashes "
                  "recomputed: the body's own seq disagrees", entries=rechain(renumber(swapped))),
        s.variant("i1-body-v2", f"fail@{k}", f'entry {k} body "v":2, hashes recomputed, checkpoints kept: the '
                  "body check fails before the checkpoint at or after it is judged",
                  entries=s.replaced(k, edit_body(s.team, v=2))),
        s.variant("i2-body-seq", f"fail@{k}", f"entry {k} body seq {k + 100}, hashes recomputed: body check",
                  entries=s.replaced(k, edit_body(s.team, seq=k + 100))),
        s.variant("i3-body-array", f"fail@{k}", f'entry {k} body [1,{k},"team.create"], hashes recomputed: '
                  "a body must be a JSON object",
                  entries=s.replaced(k, {**s.team, "body": f'[1,{k},"team.create"]'})),
        s.variant("k-key-entry-wrong-id", f"fail@{s.rotation}", f"rotation entry {s.rotation}: after.key_id not "
                  "the id of its public_key, hashes recomputed",
                  entries=s.replaced(s.rotation, edit_body(rotation, after=bad_after))),
    ]


def count_variants(s: Scenario) -> list:
    n, cut = s.n, last_checkpoint_below(s.checkpoints, s.n)
    return [
        s.variant("d1-cut-to-checkpoint", f"fail@{cut + 1}", f"entries {cut + 1}-{n} removed (entry {cut} has a "
                  f"checkpoint), header {cut}: the trusted checkpoint at {n} covers more",
                  entries=s.entries[:cut]),
        s.variant("d2-cut-last-entry", f"fail@{n}", f"entry {n} removed, header {n - 1}: a trusted checkpoint "
                  f"covers {n}; the end checks run in order, so truncation (naming entry {n}) comes before the "
                  "unsigned tail", entries=s.entries[: n - 1]),
        s.variant("e1-header-count-high", f"fail@{n + 1}", f"header declares {n + 1}",
                  header=with_count(s.header, n + 1)),
        s.variant("e2-header-count-low", f"fail@{n}", f"header declares {n - 1}", header=with_count(s.header, n - 1)),
    ]


def signature_variants(s: Scenario) -> list:
    n = s.n
    extended = rechain(s.entries + [forged_team(s.team, n + 1, "mallory")])
    enrollment = {**s.team, "seq": n + 1, "body": canonical({
        "action": "signing_key.enroll", "actor": "mallory", "after": {
            "key_id": hashlib.sha256(bytes(s.intruder.verify_key)).hexdigest()[:16], "label": "mallory",
            "public_key": bytes(s.intruder.verify_key).hex(), "replaces": None},
        "at": "2030-01-01T00:00:00.000000Z", "before": None, "object": {"id": "mallory", "kind": "signing_key"},
        "reason": None, "request_id": None, "seq": n + 1, "v": 1})}
    enrolled = rechain(s.entries + [enrollment])
    last = len(s.checkpoints) - 1
    return [
        s.variant("g1-untrusted-key-extends", f"fail@{n + 1}", f"forged entry {n + 1} appended, with a checkpoint "
                  "at it by a key nobody trusts: ignored, so the tail is unsigned",
                  checkpoints=s.checkpoints + [sign_checkpoint(s.intruder, extended[-1])], entries=extended),
        s.variant("g2-self-endorsed-enrollment", f"fail@{n + 1}", f"entry {n + 1} enrolls the intruder's key, "
                  "which signs the checkpoint at it: a key cannot endorse itself",
                  checkpoints=s.checkpoints + [sign_checkpoint(s.intruder, enrolled[-1])], entries=enrolled),
        s.variant("g3-stolen-retired-key-extends", f"fail@{n + 1}", f"forged entry {n + 1} appended, signed by "
                  f"the stolen ORIGINAL key, retired by the rotation at {s.rotation}",
                  checkpoints=s.checkpoints + [sign_checkpoint(s.stolen, extended[-1])], entries=extended),
        s.variant("h1-flip-signature-first", f"fail@{s.checkpoints[0]['tree_size']}", "a bit of the first "
                  "checkpoint's signature flipped (root key)",
                  checkpoints=[flip_signature(s.checkpoints[0])] + s.checkpoints[1:]),
        s.variant("h2-flip-signature-last", f"fail@{s.checkpoints[last]['tree_size']}", "a bit of the last "
                  "checkpoint's signature flipped (the rotated-in key)",
                  checkpoints=s.checkpoints[:last] + [flip_signature(s.checkpoints[last])]),
    ]


def format_variants(s: Scenario) -> list:
    k = s.k
    with_note = [{**e, "note": "x"} if n == k else e for n, e in enumerate(s.entries, start=1)]
    return [
        s.variant("l1-unknown-field-entry", "error", f"entry line {k} has an unknown field", entries=with_note),
        s.variant("l2-unknown-field-header", "error", "the header line has an unknown field",
                  header={**s.header, "note": "x"}),
        s.variant("l3-checkpoint-after-entries", "error", "the checkpoint lines follow the entry lines",
                  checkpoints=[], entries=s.entries + s.checkpoints, header=s.header),
    ]


def witness_variants(s: Scenario) -> list:
    w = s.witness_size
    cut = last_checkpoint_below(s.checkpoints, w)
    kept = w - 2
    forged = [forged_team(s.team, seq, f"mallory-{seq}") for seq in range(kept + 1, w + 3)]
    rewritten = rechain(s.entries[:kept] + forged)
    rewritten_checkpoints = checkpoints_up_to(s.checkpoints, kept) + [sign_checkpoint(s.stolen, rewritten[-1])]
    cut_back = dict(checkpoints=checkpoints_up_to(s.checkpoints, cut), entries=s.entries[:cut])
    rewrite = dict(checkpoints=rewritten_checkpoints, entries=rewritten)
    return [
        s.variant("j1-intact-with-witness", "ok", f"the intact export and the witness at {w}", witness=True),
        s.variant("j2a-cut-back", "ok", f"cut back to entry {cut} (checkpointed), later checkpoints deleted: "
                  "nothing in the export shows it", **cut_back),
        s.variant("j2b-cut-back-with-witness", f"fail@{cut + 1}", f"the same with the witness at {w}: it lies "
                  "beyond the end", witness=True, **cut_back),
        s.variant("j3a-rewritten-stolen-key", "ok", f"entries {kept + 1}-{w + 2} rewritten, hashes recomputed, "
                  "signed by the stolen original key (the rewritten log has no rotation to retire it)", **rewrite),
        s.variant("j3b-rewritten-with-witness", f"fail@{w}", f"the same with the witness at {w}: history differs",
                  witness=True, **rewrite),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--witness", type=Path, required=True)
    parser.add_argument("--stolen-key", type=Path, required=True)
    args = parser.parse_args()
    scenario = Scenario(args.export, args.witness, args.stolen_key)
    variants = [*chain_variants(scenario), *count_variants(scenario), *signature_variants(scenario),
                *format_variants(scenario), *witness_variants(scenario)]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for variant in variants:
        path = args.out_dir / f"{variant['name']}.jsonl"
        write_export(path, *variant["lines"])
        witness = "yes" if variant["witness"] else "no"
        manifest.append("\t".join([variant["name"], str(path), witness, variant["expected"], variant["what"]]))
    (args.out_dir / "variants.tsv").write_text("\n".join(manifest) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
