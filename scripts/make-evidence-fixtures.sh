#!/usr/bin/env bash
# Produces the evidence fixtures of crates/tollgate-evidence/tests/fixtures/ with real tools:
#   nextest-tollgate-core.junit.xml   cargo-nextest, this workspace's tollgate-core tests
#   nextest-demo.junit.xml            cargo-nextest, a throwaway crate with a deliberately failing test
#   pytest-demo.junit.xml             pytest --junitxml, a tiny Python project with a failure and a skip
#   tollgate.cdx.json                 cargo-cyclonedx, this workspace's tollgate binary crate
#   tollgate-core.clippy.sarif        clippy-sarif over clippy's JSON for tollgate-core
#   demo.clippy.sarif                 clippy-sarif over clippy's JSON for the throwaway crate
#   llvm-cov-tollgate-core.lcov       cargo-llvm-cov, tollgate-core's tests
#   llvm-cov-tollgate-core.cobertura.xml   the same run, as Cobertura
#   coveragepy-demo.lcov              coverage.py (with branch coverage), the Python project
#   coveragepy-demo.cobertura.xml     the same run, as Cobertura
# Missing tools are installed (cargo install --locked, rustup component, pip in a venv).
# The workspace's reports are made in a copy of the committed tree (git HEAD, plus this
# checkout's .config/), so unrelated uncommitted work neither breaks nor leaks into them;
# FIXTURE_SOURCE=worktree copies the working tree as it is instead.
# Usage: bash scripts/make-evidence-fixtures.sh    (from anywhere; takes a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tollgate-target}"
export CARGO_TERM_COLOR=never
# Fixed timestamps where tools honour it, so reruns differ less.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1735689600}"
fixtures="$repo/crates/tollgate-evidence/tests/fixtures"
work="${TMPDIR:-/tmp}/tollgate-evidence-fixtures"
rm -rf "$work"
mkdir -p "$fixtures" "$work"

need_cargo_tool() { # need_cargo_tool BINARY CRATE
  command -v "$1" >/dev/null || cargo install "$2" --locked
}
need_cargo_tool cargo-nextest cargo-nextest
need_cargo_tool cargo-cyclonedx cargo-cyclonedx
need_cargo_tool clippy-sarif clippy-sarif
need_cargo_tool sarif-fmt sarif-fmt

step() { echo "== $*" >&2; }

# A throwaway crate with deliberate lints and a deliberately failing test. It lives at a fixed
# path so that the paths in its reports are the same on every run.
make_demo_crate() {
  mkdir -p "$work/evidence-demo/src" "$work/evidence-demo/.config"
  cat >"$work/evidence-demo/Cargo.toml" <<'TOML'
[package]
name = "evidence-demo"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]
TOML
  cat >"$work/evidence-demo/.config/nextest.toml" <<'TOML'
[profile.ci]
fail-fast = false

[profile.ci.junit]
path = "junit.xml"
TOML
  cat >"$work/evidence-demo/src/lib.rs" <<'RUST'
//! Deliberately imperfect code, to give linters and test reporters something to report.

pub fn add(left: u64, right: u64) -> u64 {
    return left + right;
}

pub fn is_empty(items: &Vec<u64>) -> bool {
    items.len() == 0
}

pub fn never(byte: u8) -> bool {
    byte > 255
}

pub fn first_word(text: &str) -> &str {
    let words: Vec<&str> = text.split(' ').collect();
    words.iter().next().map(|word| *word).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_works() {
        assert_eq!(add(2, 2), 4);
    }

    #[test]
    fn failing_on_purpose() {
        assert_eq!(add(2, 2), 5, "this test fails on purpose");
    }

    #[test]
    #[ignore = "ignored on purpose"]
    fn ignored_on_purpose() {}

    #[test]
    fn empty_is_empty() {
        assert!(is_empty(&Vec::new()));
        assert_eq!(first_word("a b"), "a");
        assert!(!never(1));
    }
}
RUST
}

step "copy of the workspace (${FIXTURE_SOURCE:-head}) in $work/workspace"
mkdir -p "$work/workspace"
case "${FIXTURE_SOURCE:-head}" in
  head) git -C "$repo" archive HEAD | tar -C "$work/workspace" -xf -
        cp -R "$repo/.config" "$work/workspace/" ;;
  worktree) tar -C "$repo" --exclude=./target --exclude=./.git -cf - . | tar -C "$work/workspace" -xf - ;;
  *) echo "FIXTURE_SOURCE is head or worktree" >&2; exit 2 ;;
esac
cd "$work/workspace"

step "JUnit: cargo nextest run -p tollgate-core --profile ci"
cargo nextest run -p tollgate-core --profile ci --locked >&2
# Nextest writes under its store dir, `target/nextest` of the workspace root, whatever
# CARGO_TARGET_DIR says.
cp target/nextest/ci/junit.xml "$fixtures/nextest-tollgate-core.junit.xml"

make_demo_crate
step "JUnit: cargo nextest run --profile ci on the throwaway crate (one test fails on purpose)"
(cd "$work/evidence-demo" && cargo nextest run --profile ci --no-fail-fast >&2) || true
cp "$work/evidence-demo/target/nextest/ci/junit.xml" "$fixtures/nextest-demo.junit.xml"

step "SARIF: cargo clippy --message-format=json -p tollgate-core | clippy-sarif"
cargo clippy --message-format=json -p tollgate-core --locked | clippy-sarif >"$fixtures/tollgate-core.clippy.sarif"
sarif-fmt <"$fixtures/tollgate-core.clippy.sarif" >&2 || true

step "SARIF: clippy-sarif on the throwaway crate (lints on purpose)"
{ (cd "$work/evidence-demo" && cargo clippy --message-format=json) || true; } \
  | clippy-sarif >"$fixtures/demo.clippy.sarif"
sarif-fmt <"$fixtures/demo.clippy.sarif" >&2 || true

step "CycloneDX: cargo cyclonedx --format json --spec-version 1.5"
# cargo-cyclonedx writes one SBOM beside each member's Cargo.toml, here in the copy.
cargo cyclonedx --format json --spec-version 1.5 >&2
python3 -m json.tool --indent 1 "$work/workspace/crates/tollgate/tollgate.cdx.json" >"$fixtures/tollgate.cdx.json"

step "Coverage: cargo llvm-cov on tollgate-core (LCOV and Cobertura)"
if ! command -v cargo-llvm-cov >/dev/null; then
  rustup component add llvm-tools-preview
  cargo install cargo-llvm-cov --locked
fi
cargo llvm-cov clean --workspace >&2
cargo llvm-cov -p tollgate-core --locked --no-report >&2
cargo llvm-cov report --lcov --output-path "$fixtures/llvm-cov-tollgate-core.lcov" >&2
cargo llvm-cov report --cobertura --output-path "$fixtures/llvm-cov-tollgate-core.cobertura.xml" >&2

step "Python: pytest --junitxml and coverage.py (branch coverage) on a tiny project"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet coverage pytest
mkdir -p "$work/pydemo"
cat >"$work/pydemo/shapes.py" <<'PY'
"""Deliberately partly tested code, for coverage reports."""


def classify(sides):
    if sides < 3:
        raise ValueError("a polygon has at least three sides")
    if sides == 3:
        return "triangle"
    if sides == 4:
        return "quadrilateral"
    return "polygon"


def area(width, height):
    if width < 0 or height < 0:
        return None
    return width * height


def unused():
    return "never called"
PY
cat >"$work/pydemo/test_shapes.py" <<'PY'
import pytest

from shapes import area, classify


def test_triangle():
    assert classify(3) == "triangle"


def test_square():
    assert classify(4) == "quadrilateral"


def test_area():
    assert area(2, 3) == 6


def test_fails_on_purpose():
    assert area(2, 2) == 5, "this test fails on purpose"


@pytest.mark.skip(reason="skipped on purpose")
def test_skipped():
    assert classify(5) == "polygon"
PY
(cd "$work/pydemo" \
  && { "$work/venv/bin/coverage" run --branch -m pytest -q --junitxml=pytest.junit.xml >&2 || true; } \
  && "$work/venv/bin/coverage" xml -o coverage.xml >&2 \
  && "$work/venv/bin/coverage" lcov -o coverage.lcov >&2)
cp "$work/pydemo/pytest.junit.xml" "$fixtures/pytest-demo.junit.xml"
cp "$work/pydemo/coverage.xml" "$fixtures/coveragepy-demo.cobertura.xml"
cp "$work/pydemo/coverage.lcov" "$fixtures/coveragepy-demo.lcov"

step "done"
ls -l "$fixtures" >&2
