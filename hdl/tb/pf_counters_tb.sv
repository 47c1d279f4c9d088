// fpgactl-test: widths=none
// fpgactl-timeout: 300
//
// Self-checking testbench of pf_counters. A model of hdl/SPEC.md §5 is
// updated at every edge; the combinational read port is checked every cycle
// at a random address and all counters are swept at the end of each phase.
// Covers every outcome, malformed, per-rule hits, clears (also together with
// an update), carries past 2^32 and the wrap at 2^64 (counters preloaded
// through hierarchical writes, simulation only). A second instance with only
// 2 rules (a 1-bit rule index, a 3-bit read index) sees the same frames and
// must read the same totals and the counters of rules 0 and 1.
// Plusargs: +seed=N (default 1), +cycles=N, +trace=file.fst

`timescale 1ns / 1ps

module pf_counters_tb;

localparam int NUM_RULES  = 8;
localparam int RULE_IDX_W = $clog2(NUM_RULES);
// Read index of pf_counters: a rule, or a total 0..4
localparam int CNT_IDX_W  = (RULE_IDX_W > 3) ? RULE_IDX_W : 3;
// The small instance
localparam int SMALL_RULES = 2;

logic clk = 1'b0;
logic rst = 1'b1;
always #5 clk = !clk;

logic                  in_valid = 1'b0;
logic [15:0]           in_len = '0;
logic                  in_hit = 1'b0;
logic [RULE_IDX_W-1:0] in_idx = '0;
logic [1:0]            in_outcome = '0;
logic                  in_malformed = 1'b0;
logic                  clear_totals = 1'b0;
logic                  clear_rules = 1'b0;
logic                  rd_is_rule = 1'b0;
logic [CNT_IDX_W-1:0]  rd_index = '0;
logic                  rd_bytes = 1'b0;
wire  [63:0]           rd_value;

pf_counters #(.NUM_RULES(NUM_RULES)) dut (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_len(in_len), .in_hit(in_hit), .in_idx(in_idx),
    .in_outcome(in_outcome), .in_malformed(in_malformed), .clear_totals(clear_totals),
    .clear_rules(clear_rules), .rd_is_rule(rd_is_rule), .rd_index(rd_index), .rd_bytes(rd_bytes),
    .rd_value(rd_value)
);

wire [63:0] small_rd_value;

pf_counters #(.NUM_RULES(SMALL_RULES)) dut_small (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_len(in_len),
    .in_hit(in_hit && int'(in_idx) < SMALL_RULES), .in_idx(in_idx[0]),
    .in_outcome(in_outcome), .in_malformed(in_malformed), .clear_totals(clear_totals),
    .clear_rules(clear_rules), .rd_is_rule(rd_is_rule), .rd_index(3'(rd_index)), .rd_bytes(rd_bytes),
    .rd_value(small_rd_value)
);

// ------------------------------------------------------------ model

// totals: 0 in, 1 passed, 2 dropped, 3 policed, 4 malformed
logic [63:0] m_tot_pkts [5];
logic [63:0] m_tot_bytes [5];
logic [63:0] m_rule_pkts [NUM_RULES];
logic [63:0] m_rule_bytes [NUM_RULES];

function automatic logic [63:0] model_read(bit is_rule, int index, bit bytes);
    if (is_rule) return bytes ? m_rule_bytes[index] : m_rule_pkts[index];
    if (index > 4) return 64'd0;
    return bytes ? m_tot_bytes[index] : m_tot_pkts[index];
endfunction

task automatic model_clear_totals();
    for (int k = 0; k < 5; k++) begin
        m_tot_pkts[k]  = 0;
        m_tot_bytes[k] = 0;
    end
endtask

task automatic model_clear_rules();
    for (int r = 0; r < NUM_RULES; r++) begin
        m_rule_pkts[r]  = 0;
        m_rule_bytes[r] = 0;
    end
endtask

function automatic void model_count(int k);
    m_tot_pkts[k]  = m_tot_pkts[k] + 64'd1;
    m_tot_bytes[k] = m_tot_bytes[k] + 64'(in_len);
endfunction

bit checking = 0;
int n_reads = 0;
int n_outcome [4];

// Check the read port (pre-edge), then apply the edge to the model
always @(posedge clk) begin
    if (checking) begin
        logic [63:0] expected;
        expected = model_read(rd_is_rule, int'(rd_index), rd_bytes);
        if (rd_value !== expected) begin
            $fatal(1, "read %s %0d %s: expected %0d (0x%h), seen %0d (0x%h)", rd_is_rule ? "rule" : "total",
                rd_index, rd_bytes ? "bytes" : "packets", expected, expected, rd_value, rd_value);
        end
        // the small instance: rules past its last read 0
        if (rd_is_rule && int'(rd_index) >= SMALL_RULES) expected = 64'd0;
        if (small_rd_value !== expected) begin
            $fatal(1, "%0d-rule instance: read %s %0d %s: expected %0d (0x%h), seen %0d (0x%h)", SMALL_RULES,
                rd_is_rule ? "rule" : "total", rd_index, rd_bytes ? "bytes" : "packets", expected, expected,
                small_rd_value, small_rd_value);
        end
        n_reads++;
    end
    if (rst) begin
        model_clear_totals();
        model_clear_rules();
    end else begin
        if (clear_totals) begin
            model_clear_totals();
        end else if (in_valid) begin
            model_count(0);
            if (in_outcome <= 2) model_count(1 + int'(in_outcome));
            if (in_malformed) model_count(4);
        end
        if (clear_rules) begin
            model_clear_rules();
        end else if (in_valid && in_hit) begin
            m_rule_pkts[in_idx]  = m_rule_pkts[in_idx] + 64'd1;
            m_rule_bytes[in_idx] = m_rule_bytes[in_idx] + 64'(in_len);
        end
        if (in_valid) n_outcome[in_outcome]++;
    end
end

// ------------------------------------------------------------ stimulus

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

task automatic random_read_address();
    rd_is_rule = rnd_below(2) == 0;
    rd_index   = CNT_IDX_W'(rnd_below(1 << CNT_IDX_W));
    rd_bytes   = rnd_below(2) == 0;
endtask

// Every counter through the read port
int sweep_slots = 2 * (1 << CNT_IDX_W) * 2;    // a variable, so the loop is not unrolled

task automatic sweep();
    for (int i = 0; i < sweep_slots; i++) begin
        rd_bytes   = i[0];
        rd_index   = CNT_IDX_W'(i >> 1);
        rd_is_rule = i[CNT_IDX_W + 1];
        @(posedge clk);
        #1;
    end
endtask

// One frame, or idle when valid is 0; clears as given
task automatic step(bit valid, logic [15:0] len, bit hit, int idx, int outcome, bit malformed,
                    bit clr_totals = 0, bit clr_rules = 0);
    in_valid     = valid;
    in_len       = len;
    in_hit       = hit;
    in_idx       = RULE_IDX_W'(idx);
    in_outcome   = 2'(outcome);
    in_malformed = malformed;
    clear_totals = clr_totals;
    clear_rules  = clr_rules;
    @(posedge clk);
    #1;
    in_valid     = 1'b0;
    clear_totals = 1'b0;
    clear_rules  = 1'b0;
endtask

task automatic expect_value(bit is_rule, int index, bit bytes, logic [63:0] value, string what);
    rd_is_rule = is_rule;
    rd_index   = CNT_IDX_W'(index);
    rd_bytes   = bytes;
    #1;
    if (rd_value !== value) begin
        $fatal(1, "%s: expected 0x%h, seen 0x%h", what, value, rd_value);
    end
endtask

task automatic directed();
    // every outcome once, with hand-computed totals
    step(1, 100, 1, 2, 0, 0);     // passed, rule 2
    step(1, 200, 0, 0, 1, 0);     // dropped (default)
    step(1, 300, 1, 5, 2, 0);     // policed, rule 5
    step(1, 60, 0, 0, 1, 1);      // malformed, dropped
    step(1, 70, 0, 0, 0, 1);      // malformed, passed
    step(1, 80, 0, 3, 0, 0);      // in_idx ignored without a hit
    expect_value(0, 0, 0, 6, "in packets");
    expect_value(0, 0, 1, 810, "in bytes");
    expect_value(0, 1, 0, 3, "passed packets");
    expect_value(0, 1, 1, 250, "passed bytes");
    expect_value(0, 2, 0, 2, "dropped packets");
    expect_value(0, 2, 1, 260, "dropped bytes");
    expect_value(0, 3, 1, 300, "policed bytes");
    expect_value(0, 4, 0, 2, "malformed packets");
    expect_value(0, 4, 1, 130, "malformed bytes");
    expect_value(1, 2, 1, 100, "rule 2 bytes");
    expect_value(1, 5, 0, 1, "rule 5 packets");
    expect_value(1, 3, 0, 0, "rule 3 packets (no hit)");
    expect_value(0, 5, 0, 0, "total index 5 reads 0");
    sweep();
    // clear with an update in the same cycle: the clear wins for its group only
    step(1, 1000, 1, 2, 0, 0, 1, 0);
    expect_value(0, 0, 0, 0, "in packets after clear_totals + update");
    expect_value(1, 2, 0, 2, "rule 2 packets still counted");
    step(1, 1000, 1, 2, 0, 0, 0, 1);
    expect_value(1, 2, 0, 0, "rule 2 packets after clear_rules + update");
    expect_value(0, 0, 0, 1, "in packets counted");
    step(0, 0, 0, 0, 0, 0, 1, 1);
    sweep();

    // 64-bit carry the honest way: bytes of rule 1 and "in" past 2^32
    for (int i = 0; i < 65538; i++) step(1, 16'hffff, 1, 1, 0, 0);
    expect_value(1, 1, 1, 64'd65538 * 64'hffff, "rule 1 bytes past 2^32");
    expect_value(0, 0, 1, 64'd65538 * 64'hffff, "in bytes past 2^32");
    sweep();

    // preload near the 32-bit and 64-bit boundaries (simulation-only writes)
    dut.g_rule[3].pkts_reg     = 64'h0000_0000_ffff_fffe;  m_rule_pkts[3]  = 64'h0000_0000_ffff_fffe;
    dut.g_rule[3].bytes_reg    = 64'hffff_ffff_ffff_ff00;  m_rule_bytes[3] = 64'hffff_ffff_ffff_ff00;
    dut.g_total[2].pkts_reg    = 64'hffff_ffff_ffff_ffff;  m_tot_pkts[2]   = 64'hffff_ffff_ffff_ffff;
    dut.g_total[2].bytes_reg   = 64'h0000_0001_ffff_ffff;  m_tot_bytes[2]  = 64'h0000_0001_ffff_ffff;
    dut_small.g_total[2].pkts_reg  = 64'hffff_ffff_ffff_ffff;
    dut_small.g_total[2].bytes_reg = 64'h0000_0001_ffff_ffff;
    #1;
    step(1, 300, 1, 3, 1, 0);
    step(1, 300, 1, 3, 1, 0);
    expect_value(1, 3, 0, 64'h0000_0001_0000_0000, "rule 3 packets carry into bit 32");
    expect_value(1, 3, 1, 64'h0000_0000_0000_0158, "rule 3 bytes wrap at 2^64");
    expect_value(0, 2, 0, 64'h0000_0000_0000_0001, "dropped packets wrap at 2^64");
    expect_value(0, 2, 1, 64'h0000_0002_0000_0257, "dropped bytes carry");
    sweep();
endtask

task automatic random_run(int cycles);
    for (int i = 0; i < cycles; i++) begin
        in_valid     = rnd_below(4) != 0;
        in_len       = rnd_below(8) == 0 ? 16'(rnd()) : 16'(14 + rnd_below(1600));
        in_hit       = rnd_below(2) == 0;
        in_idx       = RULE_IDX_W'(rnd_below(NUM_RULES));
        in_outcome   = 2'(rnd_below(3));
        in_malformed = rnd_below(8) == 0;
        clear_totals = rnd_below(3000) == 0;
        clear_rules  = rnd_below(3000) == 0;
        random_read_address();
        @(posedge clk);
        #1;
    end
    in_valid = 1'b0;
    clear_totals = 1'b0;
    clear_rules = 1'b0;
    sweep();
endtask

string       trace_path;
int unsigned seed = 1;
int          random_cycles = 100000;

initial begin
    if ($value$plusargs("trace=%s", trace_path)) begin
        $dumpfile(trace_path);
        $dumpvars(0, pf_counters_tb);
    end
    void'($value$plusargs("seed=%d", seed));
    void'($value$plusargs("cycles=%d", random_cycles));
    rng_state = 64'h9E3779B97F4A7C15 ^ 64'(seed);
    model_clear_totals();
    model_clear_rules();
    // frames during reset are not counted
    in_valid = 1'b1; in_hit = 1'b1; in_len = 16'd99;
    repeat (3) @(posedge clk);
    #1;
    in_valid = 1'b0;
    rst = 1'b0;
    checking = 1'b1;
    sweep();

    directed();
    random_run(random_cycles);

    // reset clears everything
    rst = 1'b1;
    @(posedge clk);
    #1;
    rst = 1'b0;
    sweep();
    expect_value(0, 0, 0, 0, "in packets after reset");

    $display("PASS pf_counters_tb: seed %0d, %0d reads checked, outcomes passed %0d dropped %0d policed %0d",
        seed, n_reads, n_outcome[0], n_outcome[1], n_outcome[2]);
    $finish;
end

initial begin
    // counted in cycles: a long # delay overflows 32 bits at 1 ps precision
    repeat (5_000_000) @(posedge clk);
    $fatal(1, "watchdog: pf_counters_tb did not finish");
end

endmodule
