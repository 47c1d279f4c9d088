// fpgactl-test: widths=none
// fpgactl-timeout: 300
//
// Self-checking testbench of pf_axil_regs against the register map of
// hdl/SPEC.md §6. The rule table and counters are stand-ins whose read data
// encodes the address they were given, so every decode is checked. Writes use
// AW before W, W before AW and both in the same cycle; B and R see random
// back-pressure, and a protocol monitor checks that BVALID/RVALID hold their
// payload until taken. Plusargs: +seed=N (default 1), +trace=file.fst

`timescale 1ns / 1ps

module pf_axil_regs_tb;

localparam int ADDR_WIDTH = 20;
localparam int NUM_RULES  = 12;     // not a power of two: rule 12..15 must be unmapped
localparam int RULE_IDX_W = $clog2(NUM_RULES);
localparam int CNT_IDX_W  = (RULE_IDX_W > 3) ? RULE_IDX_W : 3;   // counter read index
localparam int DATA_W     = 512;
localparam int MAX_FRAME  = 9000;
localparam int LATENCY    = 157;

// Loop bounds as variables: Verilator would otherwise unroll loops around
// the (inlined) bus tasks, which makes the C++ slow to compile
int n_orders = 3, n_strobes = 15, n_totals = 5, n_halves = 2, n_rules = NUM_RULES, n_word_tests = 40;
int n_random = 300;

localparam logic [1:0] OKAY = 2'b00, SLVERR = 2'b10, DECERR = 2'b11;

logic clk = 1'b0;
logic rst = 1'b1;
always #5 clk = !clk;

logic [ADDR_WIDTH-1:0] awaddr = '0, araddr = '0;
logic                  awvalid = 1'b0, wvalid = 1'b0, bready = 1'b0, arvalid = 1'b0, rready = 1'b0;
logic [31:0]           wdata = '0;
logic [3:0]            wstrb = '0;
wire                   awready, wready, bvalid, arready, rvalid;
wire  [1:0]            bresp, rresp;
wire  [31:0]           rdata;

wire                   ctrl_default_drop, ctrl_malformed_pass, swap_req, clear_totals, clear_rules;
wire                   tbl_wr_en;
wire [RULE_IDX_W-1:0]  tbl_wr_rule, tbl_rd_rule;
wire [CNT_IDX_W-1:0]   cnt_rd_index;
wire [4:0]             tbl_wr_word, tbl_rd_word;
wire [31:0]            tbl_wr_data;
wire                   cnt_rd_is_rule, cnt_rd_bytes;
logic [15:0]           swap_count = 16'hbeef;
logic [15:0]           cnt_bump = '0;

// Stand-ins: read data names the address it was read from
function automatic logic [31:0] tbl_addr_echo(int rule, int word);
    return 32'ha500_0000 | 32'(rule << 8) | 32'(word);
endfunction

function automatic logic [63:0] cnt_addr_echo(bit is_rule, int index, bit bytes, logic [15:0] bump);
    return {4'hc, 2'b0, is_rule, bytes, 8'(index), bump, 4'h3, 2'b0, is_rule, bytes, 8'(index), 16'h1234};
endfunction

wire [31:0] tbl_rd_data  = tbl_addr_echo(int'(tbl_rd_rule), int'(tbl_rd_word));
wire [63:0] cnt_rd_value = cnt_addr_echo(cnt_rd_is_rule, int'(cnt_rd_index), cnt_rd_bytes, cnt_bump);

pf_axil_regs #(
    .ADDR_WIDTH(ADDR_WIDTH), .DATA_WIDTH_PARAM(DATA_W), .NUM_RULES(NUM_RULES),
    .MAX_FRAME_BYTES(MAX_FRAME), .LATENCY(LATENCY)
) dut (
    .clk(clk), .rst(rst),
    .s_axil_awaddr(awaddr), .s_axil_awprot(3'b000), .s_axil_awvalid(awvalid), .s_axil_awready(awready),
    .s_axil_wdata(wdata), .s_axil_wstrb(wstrb), .s_axil_wvalid(wvalid), .s_axil_wready(wready),
    .s_axil_bresp(bresp), .s_axil_bvalid(bvalid), .s_axil_bready(bready),
    .s_axil_araddr(araddr), .s_axil_arprot(3'b000), .s_axil_arvalid(arvalid), .s_axil_arready(arready),
    .s_axil_rdata(rdata), .s_axil_rresp(rresp), .s_axil_rvalid(rvalid), .s_axil_rready(rready),
    .ctrl_default_drop(ctrl_default_drop), .ctrl_malformed_pass(ctrl_malformed_pass), .swap_req(swap_req),
    .clear_totals(clear_totals), .clear_rules(clear_rules),
    .tbl_wr_en(tbl_wr_en), .tbl_wr_rule(tbl_wr_rule), .tbl_wr_word(tbl_wr_word), .tbl_wr_data(tbl_wr_data),
    .tbl_rd_rule(tbl_rd_rule), .tbl_rd_word(tbl_rd_word), .tbl_rd_data(tbl_rd_data),
    .cnt_rd_is_rule(cnt_rd_is_rule), .cnt_rd_index(cnt_rd_index), .cnt_rd_bytes(cnt_rd_bytes),
    .cnt_rd_value(cnt_rd_value), .swap_count(swap_count)
);

// ------------------------------------------------------------ monitors

int          n_swap = 0, n_clear_totals = 0, n_clear_rules = 0, n_tbl_wr = 0;
logic [31:0] last_tbl_wr_data;
int          last_tbl_wr_rule, last_tbl_wr_word;
logic        prev_bvalid = 0, prev_bready = 0, prev_rvalid = 0, prev_rready = 0;
logic [1:0]  prev_bresp, prev_rresp;
logic [31:0] prev_rdata;

always @(posedge clk) begin
    if (!rst) begin
        if (swap_req) n_swap++;
        if (clear_totals) n_clear_totals++;
        if (clear_rules) n_clear_rules++;
        if (tbl_wr_en) begin
            n_tbl_wr++;
            last_tbl_wr_rule = int'(tbl_wr_rule);
            last_tbl_wr_word = int'(tbl_wr_word);
            last_tbl_wr_data = tbl_wr_data;
        end
        // A response not taken must stay, unchanged
        if (prev_bvalid && !prev_bready && (!bvalid || bresp !== prev_bresp)) begin
            $fatal(1, "B channel: BVALID/BRESP changed before BREADY");
        end
        if (prev_rvalid && !prev_rready && (!rvalid || rresp !== prev_rresp || rdata !== prev_rdata)) begin
            $fatal(1, "R channel: RVALID/RDATA/RRESP changed before RREADY");
        end
    end
    prev_bvalid = bvalid; prev_bready = bready; prev_bresp = bresp;
    prev_rvalid = rvalid; prev_rready = rready; prev_rresp = rresp; prev_rdata = rdata;
end

// ------------------------------------------------------------ master

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

int n_writes = 0, n_reads = 0;
int order_count [3];

// Inputs change 1 ns after an edge; ready outputs are registered, so their
// value then is what the next edge samples.
task automatic write(logic [31:0] addr, logic [31:0] data, output logic [1:0] resp,
                     input logic [3:0] strb = 4'hf, input int order = -1);
    int aw_delay, w_delay;
    if (order < 0) order = rnd_below(3);
    order_count[order]++;
    aw_delay = order == 1 ? 1 + rnd_below(3) : 0;   // 1: W first
    w_delay  = order == 0 ? 1 + rnd_below(3) : 0;   // 0: AW first, 2: same cycle
    fork
        begin
            repeat (aw_delay) begin @(posedge clk); #1; end
            awvalid = 1'b1;
            awaddr  = ADDR_WIDTH'(addr);
            while (!awready) begin @(posedge clk); #1; end
            @(posedge clk); #1;
            awvalid = 1'b0;
            awaddr  = 'x;
        end
        begin
            repeat (w_delay) begin @(posedge clk); #1; end
            wvalid = 1'b1;
            wdata  = data;
            wstrb  = strb;
            while (!wready) begin @(posedge clk); #1; end
            @(posedge clk); #1;
            wvalid = 1'b0;
            wdata  = 'x;
            wstrb  = 'x;
        end
    join
    // B with random back-pressure
    forever begin
        bready = rnd_below(3) != 0;
        if (bvalid && bready) begin
            resp = bresp;
            @(posedge clk); #1;
            bready = 1'b0;
            break;
        end
        @(posedge clk); #1;
    end
    n_writes++;
endtask

task automatic read(logic [31:0] addr, output logic [31:0] data, output logic [1:0] resp);
    repeat (rnd_below(2)) begin @(posedge clk); #1; end
    arvalid = 1'b1;
    araddr  = ADDR_WIDTH'(addr);
    while (!arready) begin @(posedge clk); #1; end
    @(posedge clk); #1;
    arvalid = 1'b0;
    araddr  = 'x;
    forever begin
        rready = rnd_below(3) != 0;
        if (rvalid && rready) begin
            data = rdata;
            resp = rresp;
            @(posedge clk); #1;
            rready = 1'b0;
            break;
        end
        @(posedge clk); #1;
    end
    n_reads++;
endtask

task automatic expect_read(logic [31:0] addr, logic [31:0] data, logic [1:0] resp, string what);
    logic [31:0] got;
    logic [1:0]  got_resp;
    read(addr, got, got_resp);
    if (got_resp !== resp || (resp == OKAY && got !== data)) begin
        $fatal(1, "%s: read 0x%05h expected resp %0d data 0x%08h, seen resp %0d data 0x%08h", what, addr, resp,
            data, got_resp, got);
    end
endtask

task automatic expect_write(logic [31:0] addr, logic [31:0] data, logic [1:0] resp, string what,
                            logic [3:0] strb = 4'hf, int order = -1);
    logic [1:0] got_resp;
    write(addr, data, got_resp, strb, order);
    if (got_resp !== resp) begin
        $fatal(1, "%s: write 0x%05h expected resp %0d, seen %0d", what, addr, resp, got_resp);
    end
endtask

task automatic expect_pulses(int swaps, int clr_totals, int clr_rules, int tbl_writes, string what);
    if (n_swap != swaps || n_clear_totals != clr_totals || n_clear_rules != clr_rules || n_tbl_wr != tbl_writes) begin
        $fatal(1, "%s: expected swap/clear_totals/clear_rules/table-write pulses %0d/%0d/%0d/%0d, seen %0d/%0d/%0d/%0d",
            what, swaps, clr_totals, clr_rules, tbl_writes, n_swap, n_clear_totals, n_clear_rules, n_tbl_wr);
    end
endtask

// ------------------------------------------------------------ tests

// Addresses that must answer DECERR (and have no effect when written)
logic [31:0] unmapped [15] = '{32'h0001c, 32'h00020, 32'h000fc, 32'h00150, 32'h001fc, 32'h00200, 32'h0fffc,
                             32'h10064, 32'h1007c, 32'h10000 + 32'h80 * NUM_RULES, 32'h10000 + 32'h80 * 15,
                             32'h3fffc, 32'h40000 + 32'h10 * NUM_RULES, 32'h400fc, 32'hffffc};

task automatic tests();
    logic [31:0] data;
    logic [1:0]  resp;
    int          swaps = 0, ct = 0, cr = 0, tw = 0;

    // identification
    expect_read(32'h00000, 32'h50464c54, OKAY, "ID");
    expect_read(32'h00004, 32'h00010000, OKAY, "VERSION");
    expect_read(32'h00008, {16'(NUM_RULES), 16'(DATA_W)}, OKAY, "CONFIG");
    expect_read(32'h0000c, {16'(LATENCY), 16'(MAX_FRAME)}, OKAY, "GEOMETRY");
    expect_read(32'h00010, 32'h0, OKAY, "CONTROL reset value");
    expect_read(32'h00014, {16'hbeef, 16'h0}, OKAY, "SWAP read");
    expect_read(32'h00018, 32'h0, OKAY, "COUNTER_CLEAR reads 0");
    if (ctrl_default_drop !== 0 || ctrl_malformed_pass !== 0) $fatal(1, "control outputs not 0 after reset");

    // read-only registers ignore writes
    expect_write(32'h00000, 32'h12345678, OKAY, "write ID");
    expect_write(32'h00008, 32'h12345678, OKAY, "write CONFIG");
    expect_write(32'h00100, 32'h12345678, OKAY, "write total");
    expect_write(32'h40010, 32'h12345678, OKAY, "write rule counter");
    expect_read(32'h00000, 32'h50464c54, OKAY, "ID after write");
    expect_read(32'h00008, {16'(NUM_RULES), 16'(DATA_W)}, OKAY, "CONFIG after write");
    expect_pulses(0, 0, 0, 0, "read-only writes");

    // CONTROL, in all three AW/W orders
    for (int order = 0; order < n_orders; order++) begin
        expect_write(32'h00010, 32'h1, OKAY, "CONTROL=1", 4'hf, order);
        expect_read(32'h00010, 32'h1, OKAY, "CONTROL read 1");
        if (ctrl_default_drop !== 1 || ctrl_malformed_pass !== 0) $fatal(1, "CONTROL=1 outputs wrong");
        expect_write(32'h00010, 32'hfffffffe, OKAY, "CONTROL=2 (+ ignored bits)", 4'hf, order);
        expect_read(32'h00010, 32'h2, OKAY, "CONTROL read 2");
        if (ctrl_default_drop !== 0 || ctrl_malformed_pass !== 1) $fatal(1, "CONTROL=2 outputs wrong");
    end
    // partial strobes: SLVERR, no effect
    for (int s = 0; s < n_strobes; s++) begin
        expect_write(32'h00010, 32'h1, SLVERR, $sformatf("CONTROL strobe %h", s), 4'(s));
    end
    expect_read(32'h00010, 32'h2, OKAY, "CONTROL unchanged after partial strobes");
    expect_write(32'h00014, 32'h1, SLVERR, "SWAP partial strobe", 4'h1);
    expect_write(32'h00018, 32'h3, SLVERR, "COUNTER_CLEAR partial strobe", 4'h7);
    expect_write(32'h10000, 32'h3, SLVERR, "rule word partial strobe", 4'he);
    expect_pulses(0, 0, 0, 0, "partial strobes");

    // SWAP: bit 0 requests, nothing else does
    expect_write(32'h00014, 32'h1, OKAY, "SWAP=1");
    swaps++;
    expect_pulses(swaps, 0, 0, 0, "SWAP=1");
    expect_write(32'h00014, 32'hfffffffe, OKAY, "SWAP=~1");
    expect_pulses(swaps, 0, 0, 0, "SWAP without bit 0");
    expect_write(32'h00014, 32'h1, OKAY, "SWAP=1 again");
    swaps++;
    expect_pulses(swaps, 0, 0, 0, "SWAP=1 again");
    swap_count = 16'h1234;
    expect_read(32'h00014, 32'h12340000, OKAY, "SWAP count, never pending");

    // COUNTER_CLEAR
    expect_write(32'h00018, 32'h1, OKAY, "clear totals");
    ct++;
    expect_pulses(swaps, ct, cr, tw, "clear totals");
    expect_write(32'h00018, 32'h2, OKAY, "clear rules");
    cr++;
    expect_pulses(swaps, ct, cr, tw, "clear rules");
    expect_write(32'h00018, 32'h3, OKAY, "clear both");
    ct++; cr++;
    expect_pulses(swaps, ct, cr, tw, "clear both");

    // Rule words: write port and read port decode
    for (int i = 0; i < n_word_tests; i++) begin
        int r = (i < 4) ? ((i & 1) != 0 ? NUM_RULES - 1 : 0) : rnd_below(NUM_RULES);
        int w = (i < 4) ? ((i & 2) != 0 ? 24 : 0) : rnd_below(25);
        logic [31:0] value = 32'(rnd());
        logic [31:0] addr = 32'h10000 + 32'h80 * r + 4 * w;
        expect_write(addr, value, OKAY, "rule word write");
        tw++;
        expect_pulses(swaps, ct, cr, tw, "rule word write");
        if (last_tbl_wr_rule != r || last_tbl_wr_word != w || last_tbl_wr_data !== value) begin
            $fatal(1, "table write: expected rule %0d word %0d data %h, seen %0d %0d %h", r, w, value,
                last_tbl_wr_rule, last_tbl_wr_word, last_tbl_wr_data);
        end
        expect_read(addr, tbl_addr_echo(r, w), OKAY, $sformatf("rule %0d word %0d read", r, w));
    end

    // Totals: low word, then high word latched at the low read
    for (int k = 0; k < n_totals; k++) begin
        for (int b = 0; b < n_halves; b++) begin
            logic [31:0] addr = 32'h100 + 16 * k + 8 * b;
            logic [63:0] v;
            cnt_bump = 16'(k * 2 + b + 1);
            v = cnt_addr_echo(0, k, b[0], cnt_bump);
            expect_read(addr, v[31:0], OKAY, $sformatf("total %0d/%0d low", k, b));
            cnt_bump = cnt_bump + 16'h100;       // the counter moves on
            expect_read(addr + 4, v[63:32], OKAY, $sformatf("total %0d/%0d high (latched)", k, b));
        end
    end
    // Rule counters, same scheme
    for (int r = 0; r < n_rules; r++) begin
        for (int b = 0; b < n_halves; b++) begin
            logic [31:0] addr = 32'h40000 + 16 * r + 8 * b;
            logic [63:0] v;
            cnt_bump = 16'(r * 2 + b + 7);
            v = cnt_addr_echo(1, r, b[0], cnt_bump);
            expect_read(addr, v[31:0], OKAY, $sformatf("rule %0d counter %0d low", r, b));
            cnt_bump = cnt_bump + 16'h100;
            expect_read(addr + 4, v[63:32], OKAY, $sformatf("rule %0d counter %0d high (latched)", r, b));
        end
    end
    // A high word whose low word was not the last low read is live
    cnt_bump = 16'h0042;
    begin
        logic [63:0] v1, v2;
        v1 = cnt_addr_echo(0, 1, 0, 16'h0042);
        expect_read(32'h110, v1[31:0], OKAY, "passed packets low");
        cnt_bump = 16'h0043;
        v2 = cnt_addr_echo(1, 3, 1, 16'h0043);
        expect_read(32'h4003c, v2[63:32], OKAY, "rule 3 bytes high without low read: live");
        expect_read(32'h114, v1[63:32], OKAY, "passed packets high still latched");
        expect_read(32'h118, 32'(cnt_addr_echo(0, 1, 1, 16'h0043)), OKAY, "passed bytes low");
    end

    // Unmapped addresses
    foreach (unmapped[i]) begin
        expect_read(unmapped[i], 32'h0, DECERR, $sformatf("read unmapped 0x%05h", unmapped[i]));
        expect_write(unmapped[i], 32'hffffffff, DECERR, $sformatf("write unmapped 0x%05h", unmapped[i]));
    end
    expect_pulses(swaps, ct, cr, tw, "unmapped writes");
    expect_read(32'h00010, 32'h2, OKAY, "CONTROL unchanged by unmapped writes");

    // Random mix of register writes and reads, all orders and back-pressures
    for (int i = 0; i < n_random; i++) begin
        int r = rnd_below(NUM_RULES);
        int w = rnd_below(25);
        case (rnd_below(4))
            0: begin
                logic [31:0] value = 32'(rnd());
                expect_write(32'h10000 + 32'h80 * r + 4 * w, value, OKAY, "random rule write");
                tw++;
                if (last_tbl_wr_rule != r || last_tbl_wr_word != w || last_tbl_wr_data !== value) begin
                    $fatal(1, "random table write: expected rule %0d word %0d data %h, seen %0d %0d %h", r, w,
                        value, last_tbl_wr_rule, last_tbl_wr_word, last_tbl_wr_data);
                end
            end
            1: expect_read(32'h10000 + 32'h80 * r + 4 * w, tbl_addr_echo(r, w), OKAY, "random rule read");
            2: begin
                logic [31:0] value = 32'(rnd()) & 32'h3;
                expect_write(32'h00010, value, OKAY, "random CONTROL write");
                expect_read(32'h00010, value, OKAY, "random CONTROL read");
            end
            default: begin
                expect_write(32'h00014, 32'h1, OKAY, "random swap");
                swaps++;
            end
        endcase
        expect_pulses(swaps, ct, cr, tw, "random mix");
    end
endtask

string       trace_path;
int unsigned seed = 1;

initial begin
    if ($value$plusargs("trace=%s", trace_path)) begin
        $dumpfile(trace_path);
        $dumpvars(0, pf_axil_regs_tb);
    end
    void'($value$plusargs("seed=%d", seed));
    rng_state = 64'h9E3779B97F4A7C15 ^ 64'(seed);
    repeat (3) @(posedge clk);
    #1;
    rst = 1'b0;
    @(posedge clk);
    #1;
    tests();
    if (order_count[0] == 0 || order_count[1] == 0 || order_count[2] == 0) begin
        $fatal(1, "not every AW/W order was exercised: %0d %0d %0d", order_count[0], order_count[1],
            order_count[2]);
    end
    $display("PASS pf_axil_regs_tb: seed %0d, %0d writes (AW first %0d, W first %0d, same cycle %0d), %0d reads",
        seed, n_writes, order_count[0], order_count[1], order_count[2], n_reads);
    $finish;
end

initial begin
    // counted in cycles: a long # delay overflows 32 bits at 1 ps precision
    repeat (1_000_000) @(posedge clk);
    $fatal(1, "watchdog: pf_axil_regs_tb did not finish");
end

endmodule
