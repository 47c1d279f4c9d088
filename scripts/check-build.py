#!/usr/bin/env python3
"""Check a `fpgactl build --output json` record: every seed of TARGET recorded
with a timing result (Fmax), and a bitstream for the best seed.

usage: check-build.py BUILD_JSON TARGET SEEDS
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, target, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path) as f:
        build = json.load(f)
    seeds = [r for r in build["results"] if r["target"] == target]
    problems = []
    if len(seeds) != want:
        problems.append(f"{len(seeds)} seeds recorded for {target}, want {want}")
    for r in seeds:
        print(f"{target} seed {r['seed']}: {r['status']}, fmax {r['fmax_mhz']} MHz "
              f"(target {r.get('target_mhz')}), wns {r['wns_ns']} ns")
        if r["fmax_mhz"] is None:
            problems.append(f"seed {r['seed']} has no Fmax ({r['status']}: {r.get('error', '')})")
    best = build.get("best", {}).get(target)
    if not best:
        problems.append(f"no best seed for {target}")
    elif not best.get("bitstream") or not os.path.getsize(best["bitstream"]):
        problems.append(f"best seed {best['seed']} has no bitstream")
    else:
        print(f"best {target}: seed {best['seed']}, bitstream {best['bitstream']} "
              f"({os.path.getsize(best['bitstream'])} bytes)")
    if problems:
        sys.exit(f"{path}: " + "; ".join(problems))


if __name__ == "__main__":
    main()
