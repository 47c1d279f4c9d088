#!/usr/bin/env bash
# Generic yosys synthesis of pf_filter (its Chisel blocks included), to prove the RTL synthesizes
# and to count cells.
# Usage: scripts/yosys-stat.sh [DATA_WIDTH] [NUM_RULES] [MAX_FRAME_BYTES]   (defaults 64 64 9216)
# Prints yosys' `stat` of the flattened design; the full log goes to .fpgactl/synth/.
# Generic `synth` maps memories to flip-flops (there is no target to give it block RAM), so the
# delay FIFO shows up as ~FIFO_DEPTH x 75 flip-flops here; a vendor or ECP5 flow maps it to RAM.
set -euo pipefail
cd "$(dirname "$0")/.."
width=${1:-64}
rules=${2:-64}
max_frame=${3:-9216}
out=.fpgactl/synth
mkdir -p "$out"
log="$out/pf_filter-w${width}-r${rules}-f${max_frame}.log"
echo "yosys-stat: $(yosys -V); DATA_WIDTH=$width NUM_RULES=$rules MAX_FRAME_BYTES=$max_frame; log: $log" >&2
# The Chisel blocks' generated Verilog (elaborated now unless cached under .fpgactl/chisel/)
fpgactl=bin/fpgactl
[[ -x $fpgactl ]] || fpgactl="go run ./cmd/fpgactl"
chisel=$($fpgactl chisel --files | tr '\n' ' ')
start=$(date +%s)
yosys -l "$log" -q -p "read_verilog -sv hdl/rtl/*.sv $chisel;
  chparam -set DATA_WIDTH $width -set NUM_RULES $rules -set MAX_FRAME_BYTES $max_frame pf_filter;
  synth -top pf_filter -flatten;
  tee -o $out/stat-w${width}-r${rules}-f${max_frame}.txt stat" >/dev/null
cat "$out/stat-w${width}-r${rules}-f${max_frame}.txt"
echo "yosys-stat: done in $(( $(date +%s) - start ))s" >&2
