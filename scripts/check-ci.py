#!/usr/bin/env python3
"""Check an `fpgactl ci --output json` summary.

usage: check-ci.py SUMMARY_JSON [--cached] [--build] [--build-id]

Every step must have passed and the graph must hold chisel, lint, unit and
functional steps (and build with --build: a best bitstream on disk).
--cached: nothing may have run (a rerun with nothing changed).
--build-id: print only the build step's build ID (for `fpgactl release tag`).
"""
import json
import os
import sys


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if len(args) != 1 or flags - {"--cached", "--build", "--build-id"}:
        sys.exit(__doc__)
    with open(args[0]) as f:
        summary = json.load(f)
    steps = {s["name"]: s for s in summary["steps"]}
    if "--build-id" in flags:
        build = (steps.get("build") or {}).get("build")
        if not build:
            sys.exit(f"{args[0]}: no build step with a build")
        print(build["id"])
        return
    problems = []
    kinds = {s["kind"] for s in summary["steps"]}
    want = {"chisel", "lint", "unit", "functional"} | ({"build"} if "--build" in flags else set())
    if want - kinds:
        problems.append(f"steps missing: {sorted(want - kinds)}")
    for s in summary["steps"]:
        print(f"{s['name']:<16} {s['status']:<8} {len(s['items']):>3} items, {s['cached']:>3} cached, "
              f"{s['ran']:>3} run, {s['seconds']:6.1f}s")
        if s["status"] != "passed":
            problems.append(f"step {s['name']} {s['status']}: {s.get('message', '')}")
    if summary["status"] != "passed":
        problems.append(f"pipeline {summary['status']}")
    if "--cached" in flags and summary["ran"] != 0:
        problems.append(f"{summary['ran']} items ran, but nothing changed since the last run: all should be cached")
    if "--build" in flags:
        build = (steps.get("build") or {}).get("build")
        if not build or not os.path.isfile(build.get("bitstream", "")) or not os.path.getsize(build["bitstream"]):
            problems.append(f"build step left no bitstream: {build}")
        else:
            print(f"build {build['id']}: {build['target']} seed {build['seed']}, fmax {build['fmax_mhz']} MHz "
                  f"(target {build['target_mhz']}), bitstream {build['bitstream']}")
    print(f"ci {summary['id']}: {summary['status']} in {summary['seconds']:.1f}s, {summary['items']} items, "
          f"{summary['cached']} cached, {summary['ran']} run")
    if problems:
        sys.exit("check-ci: " + "; ".join(problems))


if __name__ == "__main__":
    main()
