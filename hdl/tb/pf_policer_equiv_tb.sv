// fpgactl-test: widths=none
// fpgactl-timeout: 600
//
// Equivalence of the Chisel pf_policer (hdl/chisel, generated under
// .fpgactl/chisel/) and the SystemVerilog original kept as the reference
// pf_policer_ref (hdl/ref/pf_policer_ref.sv). For every NUM_RULES the Chisel
// generator emits (1, 4, 8, 64 in fpgactl.yaml) the two run side by side on
// the same random inputs, every input changing every cycle, and both outputs
// are compared on every cycle (out_conform too when out_valid is low: it is a
// register of the same function of the same inputs).
//
// Stimulus: random valid, rule (often the same rule again, so a bucket is
// read back the cycle after it was written), epoch steps of 1..3 and random
// jumps (wrap included), per-rule configurations from a table that changes
// with the epoch plus frames with a random configuration, time mostly
// forward in small steps, sometimes still, backwards or by more than 2^32 ns,
// lengths 0..65535, and synchronous resets now and then, also with in_valid
// high. The run fails unless both verdicts at every NUM_RULES and each
// corner (time back, dt cap, same rule again, epoch change, reset) were
// seen often enough.
// Plusargs: +seed=N (default 1), +cycles=N (default 300000), +trace=file.fst

`timescale 1ns / 1ps

// One NUM_RULES: both policers on the shared stimulus; the rule index is the
// shared one modulo NUM_RULES (indexes past the last rule never reach the
// policer in the filter: the rule table only returns rules that exist).
// A helper module of this testbench, in its file on purpose.
/* verilator lint_off DECLFILENAME */
module pf_policer_equiv_pair #(
    parameter int NUM_RULES = 8
) (
    input  wire logic        clk,
    input  wire logic        rst,
    input  wire logic        checking,
    input  wire logic        in_valid,
    input  wire logic [31:0] in_rule,
    input  wire logic [15:0] in_epoch,
    input  wire logic        in_police_bytes,
    input  wire logic [39:0] in_rate,
    input  wire logic [31:0] in_burst,
    input  wire logic [63:0] in_ts,
    input  wire logic [15:0] in_len
);

localparam int RULE_IDX_W = (NUM_RULES > 1) ? $clog2(NUM_RULES) : 1;

logic [RULE_IDX_W-1:0] idx;
assign idx = RULE_IDX_W'(in_rule % 32'(NUM_RULES));

wire chisel_valid, chisel_conform, ref_valid, ref_conform;

pf_policer #(.NUM_RULES(NUM_RULES)) chisel_dut (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_idx(idx), .in_epoch(in_epoch),
    .in_police_bytes(in_police_bytes), .in_rate(in_rate), .in_burst(in_burst), .in_ts(in_ts),
    .in_len(in_len), .out_valid(chisel_valid), .out_conform(chisel_conform)
);

pf_policer_ref #(.NUM_RULES(NUM_RULES)) ref_dut (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_idx(idx), .in_epoch(in_epoch),
    .in_police_bytes(in_police_bytes), .in_rate(in_rate), .in_burst(in_burst), .in_ts(in_ts),
    .in_len(in_len), .out_valid(ref_valid), .out_conform(ref_conform)
);

longint unsigned cycles = 0, frames = 0, passed = 0, policed = 0;

// Outputs are registers: stable between the edges, compared mid-cycle
always @(negedge clk) begin
    if (checking) begin
        cycles++;
        if (chisel_valid !== ref_valid || chisel_conform !== ref_conform) begin
            $fatal(1, "NUM_RULES=%0d, cycle %0d: Chisel out_valid=%b out_conform=%b, SystemVerilog reference out_valid=%b out_conform=%b",
                NUM_RULES, cycles, chisel_valid, chisel_conform, ref_valid, ref_conform);
        end
        if (ref_valid) begin
            frames++;
            if (ref_conform) passed++; else policed++;
        end
    end
end

endmodule
/* verilator lint_on DECLFILENAME */

module pf_policer_equiv_tb;

logic clk = 1'b0;
logic rst = 1'b1;
logic checking = 1'b0;
always #5 clk = !clk;

logic        in_valid = 1'b0;
logic [31:0] in_rule = '0;
logic [15:0] in_epoch = '0;
logic        in_police_bytes = 1'b0;
logic [39:0] in_rate = '0;
logic [31:0] in_burst = '0;
logic [63:0] in_ts = '0;
logic [15:0] in_len = '0;

// The NUM_RULES values of chisel.parameters in fpgactl.yaml
pf_policer_equiv_pair #(.NUM_RULES(1))  n1  (.*);
pf_policer_equiv_pair #(.NUM_RULES(4))  n4  (.*);
pf_policer_equiv_pair #(.NUM_RULES(8))  n8  (.*);
pf_policer_equiv_pair #(.NUM_RULES(64)) n64 (.*);

// ------------------------------------------------------------ random source

logic [63:0] rng_state;

function automatic logic [63:0] rnd();
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 64'h2545F4914F6CDD1D;
endfunction

function automatic int rnd_below(int n);
    return int'(rnd() % 64'(n));
endfunction

function automatic logic [39:0] random_rate();
    logic [63:0] v = rnd();
    case (rnd_below(6))
        0: return 40'd0;
        1: return 40'(v[19:0]);                 // slow: many ns per token
        2: return 40'(v[31:0]);                 // about one packet/byte per ns
        3: return 40'(v[35:0]);
        4: return 40'hff_ffff_ffff;             // saturates at once
        default: return 40'(v[39:0]);
    endcase
endfunction

function automatic logic [31:0] random_burst(bit bytes);
    case (rnd_below(20))
        0: return 32'd0;
        1: return 32'hffff_ffff;
        2: return 32'(rnd());
        default: return bytes ? 32'(64 + rnd_below(20000)) : 32'(1 + rnd_below(8));
    endcase
endfunction

// Per-rule configuration of the current table (64 rules: enough for every pair)
logic [39:0] cfg_rate [64];
logic [31:0] cfg_burst [64];
bit          cfg_bytes [64];

task automatic random_table();
    for (int r = 0; r < 64; r++) begin
        cfg_bytes[r] = rnd_below(2) == 1;
        cfg_rate[r]  = random_rate();
        cfg_burst[r] = random_burst(cfg_bytes[r]);
    end
endtask

// ------------------------------------------------------------ corners seen

int n_back = 0, n_capped = 0, n_resets = 0, n_epochs = 0, n_same_rule = 0;

// ------------------------------------------------------------ run

string       trace_path;
int unsigned seed = 1;
int          n_cycles = 300000;

initial begin
    logic [63:0] ts = 64'd1000;
    logic [63:0] step;
    int          rule = 0;
    int          reset_left = 0;
    if ($value$plusargs("trace=%s", trace_path)) begin
        $dumpfile(trace_path);
        $dumpvars(0, pf_policer_equiv_tb);
    end
    void'($value$plusargs("seed=%d", seed));
    void'($value$plusargs("cycles=%d", n_cycles));
    rng_state = 64'h9E3779B97F4A7C15 ^ 64'(seed);
    random_table();
    // Reset with frames arriving, then compare from the first edge on
    in_valid = 1'b1;
    repeat (2) @(posedge clk);
    #1;
    rst = 1'b0;
    checking = 1'b1;
    for (int c = 0; c < n_cycles; c++) begin
        // Synchronous reset now and then, 1..3 cycles
        if (reset_left > 0) begin
            reset_left--;
        end else if (rnd_below(4000) == 0) begin
            reset_left = 1 + rnd_below(3);
            n_resets++;
        end
        rst = reset_left > 0;
        // Time
        case (rnd_below(12))
            0: begin ts = ts - 64'(rnd_below(5000)); n_back++; end
            1: begin
                step = rnd() >> rnd_below(64);
                ts = ts + step;
                if (step > 64'hffff_ffff) n_capped++;
            end
            2, 3: ;
            default: ts = ts + 64'(rnd_below(3000));
        endcase
        // Rule: often the same one again
        if (rnd_below(3) != 0) begin
            rule = rnd_below(64);
        end else begin
            n_same_rule++;
        end
        // Table swaps: the epoch moves by 1..3, sometimes anywhere (wrap included)
        if (rnd_below(1500) == 0) begin
            random_table();
            in_epoch = rnd_below(8) == 0 ? 16'(rnd()) : in_epoch + 16'(1 + rnd_below(3));
            n_epochs++;
        end
        in_valid = rnd_below(5) != 0;
        in_rule  = 32'(rule);
        if (rnd_below(50) == 0) begin
            // A frame with a configuration of its own
            in_police_bytes = rnd_below(2) == 1;
            in_rate         = random_rate();
            in_burst        = random_burst(in_police_bytes);
        end else begin
            in_police_bytes = cfg_bytes[rule];
            in_rate         = cfg_rate[rule];
            in_burst        = cfg_burst[rule];
        end
        in_ts  = ts;
        in_len = rnd_below(4) == 0 ? 16'(rnd()) : 16'(60 + rnd_below(1500));
        @(posedge clk);
        #1;
    end
    in_valid = 1'b0;
    rst = 1'b0;
    repeat (3) @(posedge clk);
    #1;
    if (n_back < 100 || n_capped < 100 || n_resets < 10 || n_epochs < 10 || n_same_rule < 1000) begin
        $fatal(1, "stimulus too weak: %0d backwards, %0d dt caps, %0d resets, %0d epoch changes, %0d same-rule frames",
            n_back, n_capped, n_resets, n_epochs, n_same_rule);
    end
    if (n1.passed < 1000 || n1.policed < 1000 || n64.passed < 1000 || n64.policed < 1000
        || n4.passed < 1000 || n4.policed < 1000 || n8.passed < 1000 || n8.policed < 1000) begin
        $fatal(1, "verdicts too one-sided: n1 %0d/%0d, n4 %0d/%0d, n8 %0d/%0d, n64 %0d/%0d passed/policed",
            n1.passed, n1.policed, n4.passed, n4.policed, n8.passed, n8.policed, n64.passed, n64.policed);
    end
    $display("PASS pf_policer_equiv_tb: seed %0d, %0d cycles compared at NUM_RULES 1, 4, 8, 64; frames passed/policed: n1 %0d/%0d, n4 %0d/%0d, n8 %0d/%0d, n64 %0d/%0d; %0d resets, %0d epoch changes, %0d times back, %0d dt caps",
        seed, n64.cycles, n1.passed, n1.policed, n4.passed, n4.policed, n8.passed, n8.policed, n64.passed, n64.policed,
        n_resets, n_epochs, n_back, n_capped);
    $finish;
end

initial begin
    repeat (50_000_000) @(posedge clk);
    $fatal(1, "watchdog: pf_policer_equiv_tb did not finish");
end

endmodule
