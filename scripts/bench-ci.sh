#!/usr/bin/env bash
# Measures `fpgactl ci` on this repository, printed side by side from one run:
#   cold             a fresh clone of HEAD: empty work directory (no fpgactl caches, no Verilator
#                    builds, no Chisel output); the machine's ccache and ~/.m2 as they are
#   nothing changed  the same command again
#   one module       after a comment is added to hdl/rtl/pf_counters.sv: the lint, the unit cases
#                    whose testbench reaches pf_counters and the functional scenarios rerun
# Targets (issue 6): cold <= 5 min, nothing changed <= 30 s on a 2-core machine.
#
# usage: scripts/bench-ci.sh [--clear-ccache]   (--clear-ccache: a truly cold compiler cache too)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
if [[ ${1:-} == --clear-ccache ]]; then
  ccache -C >/dev/null
  echo "bench-ci: ccache cleared"
fi
work=$(mktemp -d /tmp/fpgactl-bench-ci.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/repo"
cd "$work/repo"
make -s build >/dev/null
echo "bench-ci: $(nproc) cores, $(git rev-parse --short HEAD), fpgactl ci in $work/repo"

declare -a names walls items cached ran
run() {
  local name=$1 start end
  start=$(date +%s.%N)
  bin/fpgactl ci --output json > "$work/$name.json" 2> "$work/$name.log" || {
    echo "bench-ci: fpgactl ci failed ($name); its log:" >&2
    tail -n 30 "$work/$name.log" >&2
    exit 1
  }
  end=$(date +%s.%N)
  names+=("$name")
  walls+=("$(python3 -c "print($end - $start)")")
  read -r i c r < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["items"], s["cached"], s["ran"])' "$work/$name.json")
  items+=("$i"); cached+=("$c"); ran+=("$r")
}
run cold
run nothing-changed
echo "// bench-ci: a change to one module" >> hdl/rtl/pf_counters.sv
run one-module

printf '\n%-16s %9s %7s %7s %5s\n' run wall items cached ran
for i in "${!names[@]}"; do
  printf '%-16s %8.1fs %7d %7d %5d\n' "${names[$i]}" "${walls[$i]}" "${items[$i]}" "${cached[$i]}" "${ran[$i]}"
done
printf '\nnothing-changed / cold = %.4f   one-module / cold = %.3f\n' \
  "$(python3 -c "print(${walls[1]} / ${walls[0]})")" "$(python3 -c "print(${walls[2]} / ${walls[0]})")"
python3 - "$work/one-module.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for st in s["steps"]:
    rerun = [i["name"] for i in st["items"] if not i["cached"]]
    if rerun:
        print(f"one-module: {st['name']} reran {len(rerun)} of {len(st['items'])}: {', '.join(rerun[:8])}{' …' if len(rerun) > 8 else ''}")
PY
