#!/usr/bin/env bash
# The release path for real, in `make test`: a throwaway ed25519 key, `fpgactl release tag` of the
# build `fpgactl ci --build` made (timing fails on ECP5 today, so --allow-failed-timing; no git
# tag, which would outlive the test), `release verify`, then a tampered copy that verify must
# refuse. release tag refuses builds of uncommitted changes, so with a dirty tree this is skipped
# outside CI and fails in CI.
#
# usage: scripts/release-check.sh CI_SUMMARY_JSON
set -euo pipefail
cd "$(dirname "$0")/.."
summary=$1
bin=bin/fpgactl
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  if [[ ${CI:-} == true ]]; then
    echo "release-check: the work tree has uncommitted changes in CI" >&2
    git status --short --untracked-files=no >&2
    exit 1
  fi
  echo "release-check: skipped: uncommitted changes (release tag refuses builds of a dirty tree)"
  exit 0
fi
build=$(python3 scripts/check-ci.py "$summary" --build-id)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version="v0.0.0-ci.$(date +%s)"
$bin release keygen --out "$tmp/release-key" --public "$tmp/release.pub"
FPGACTL_RELEASE_KEY="$tmp/release-key" $bin release tag "$version" --build "$build" --allow-failed-timing --no-git-tag
$bin release verify "$version" --public-key "$tmp/release.pub"
$bin release fetch "$version" --out "$tmp/fetched" --public-key "$tmp/release.pub"
# One flipped byte in the fetched bitstream: verify must name it and fail.
bit=$(find "$tmp/fetched" -name '*.bit' | head -n1)
printf '\xff' | dd of="$bit" bs=1 seek=100 count=1 conv=notrunc status=none
if $bin release verify "$version" --public-key "$tmp/release.pub" --dir "$tmp/fetched" > "$tmp/verify.out" 2>&1; then
  echo "release-check: verify accepted a tampered bitstream" >&2
  cat "$tmp/verify.out" >&2
  exit 1
fi
grep -q "$(basename "$bit")" "$tmp/verify.out" || { echo "release-check: verify did not name the tampered file:" >&2; cat "$tmp/verify.out" >&2; exit 1; }
echo "release-check: $version of build $build tagged, verified, and a tampered copy refused:"
sed 's/^/  /' "$tmp/verify.out"
