// fpgactl-test: widths=none
// fpgactl-timeout: 300
//
// Self-checking testbench of pf_rule_table. Every cycle the expected lookup
// result is computed from the testbench's own copy of the active table by a
// reference matcher written from hdl/SPEC.md §3, and compared with the DUT one
// cycle later. Directed cases cover every match field; a seeded random phase
// mixes shadow writes, swaps, read-back and a lookup on every cycle.
// Plusargs: +seed=N (default 1), +cycles=N (random phase), +trace=file.fst

`timescale 1ns / 1ps

module pf_rule_table_tb;

// Not a power of two, so out-of-range rule numbers get exercised too
localparam int NUM_RULES  = 12;
localparam int RULE_IDX_W = (NUM_RULES > 1) ? $clog2(NUM_RULES) : 1;
localparam int WORDS      = 25;
// Loop bounds as variables: Verilator would otherwise unroll loops around
// clocked tasks, which makes the generated C++ very slow to compile
int n_words = WORDS;
int n_word_slots = 32;
int n_rule_slots = 1 << RULE_IDX_W;
int lim2 = 2, lim3 = 3, lim5 = 5, lim6 = 6;

logic clk = 1'b0;
logic rst = 1'b1;
always #5 clk = !clk;

// DUT inputs
logic                  cfg_wr_en = 1'b0;
logic [RULE_IDX_W-1:0] cfg_wr_rule = '0;
logic [4:0]            cfg_wr_word = '0;
logic [31:0]           cfg_wr_data = '0;
logic [RULE_IDX_W-1:0] cfg_rd_rule = '0;
logic [4:0]            cfg_rd_word = '0;
logic                  swap_req = 1'b0;
logic                  lk_valid = 1'b0;
logic                  f_ipv4 = 1'b0, f_ipv6 = 1'b0;
logic [1:0]            f_vlan_count = '0;
logic [11:0]           f_vid = '0;
logic                  f_frag = 1'b0, f_nonfirst = 1'b0;
logic [7:0]            f_proto = '0;
logic [127:0]          f_src = '0, f_dst = '0;
logic                  f_has_ports = 1'b0;
logic [15:0]           f_sport = '0, f_dport = '0;
logic                  f_tcp = 1'b0;
logic [7:0]            f_flags = '0;
logic                  f_has_icmp = 1'b0;
logic [7:0]            f_icmp_type = '0;
logic [15:0]           f_len = 16'd64;

// DUT outputs
wire [31:0]           cfg_rd_data;
wire [15:0]           swap_count;
wire                  lk_out_valid, lk_out_hit, lk_out_police_bytes;
wire [15:0]           lk_out_epoch;
wire [RULE_IDX_W-1:0] lk_out_idx;
wire [1:0]            lk_out_action;
wire [39:0]           lk_out_rate;
wire [31:0]           lk_out_burst;

pf_rule_table #(.NUM_RULES(NUM_RULES)) dut (
    .clk(clk), .rst(rst),
    .cfg_wr_en(cfg_wr_en), .cfg_wr_rule(cfg_wr_rule), .cfg_wr_word(cfg_wr_word), .cfg_wr_data(cfg_wr_data),
    .cfg_rd_rule(cfg_rd_rule), .cfg_rd_word(cfg_rd_word), .cfg_rd_data(cfg_rd_data),
    .swap_req(swap_req), .swap_count(swap_count),
    .lk_valid(lk_valid), .p_is_ipv4(f_ipv4), .p_is_ipv6(f_ipv6), .p_vlan_count(f_vlan_count),
    .p_outer_vid(f_vid), .p_is_frag(f_frag), .p_is_nonfirst(f_nonfirst), .p_proto(f_proto),
    .p_src_addr(f_src), .p_dst_addr(f_dst), .p_has_ports(f_has_ports), .p_sport(f_sport),
    .p_dport(f_dport), .p_is_tcp(f_tcp), .p_tcp_flags(f_flags), .p_has_icmp(f_has_icmp),
    .p_icmp_type(f_icmp_type), .lk_frame_len(f_len),
    .lk_out_valid(lk_out_valid), .lk_out_hit(lk_out_hit), .lk_out_idx(lk_out_idx),
    .lk_out_action(lk_out_action), .lk_out_police_bytes(lk_out_police_bytes), .lk_out_rate(lk_out_rate),
    .lk_out_burst(lk_out_burst), .lk_out_epoch(lk_out_epoch)
);

// ------------------------------------------------------------ reference

logic [31:0] model_shadow [NUM_RULES][WORDS];
logic [31:0] model_active [NUM_RULES][WORDS];
logic [15:0] model_swaps = '0;   // also the epoch of the active table

function automatic logic [127:0] word128(int r, int first_word);
    return {model_active[r][first_word+3], model_active[r][first_word+2],
            model_active[r][first_word+1], model_active[r][first_word]};
endfunction

function automatic bit in_range(logic [15:0] v, logic [31:0] range_word);
    logic [15:0] lo = range_word[15:0];
    logic [15:0] hi = range_word[31:16];
    return v >= lo && v <= hi;
endfunction

// SPEC §3 table, row by row, against the current frame fields
function automatic bit ref_match(int r);
    logic [31:0] c = model_active[r][0];
    logic [31:0] m = model_active[r][1];
    bit is_ip = f_ipv4 || f_ipv6;
    if (!c[0]) return 0;
    case (c[4:3])
        1: if (!f_ipv4) return 0;
        2: if (!f_ipv6) return 0;
        3: if (is_ip) return 0;
        default: ;
    endcase
    if (((f_src ^ word128(r, 9)) & word128(r, 13)) != 0) return 0;
    if (((f_dst ^ word128(r, 17)) & word128(r, 21)) != 0) return 0;
    if (c[9] && !(is_ip && f_proto == m[7:0])) return 0;
    if (model_active[r][3] != 32'hffff_0000 && !(f_has_ports && in_range(f_sport, model_active[r][3]))) return 0;
    if (model_active[r][4] != 32'hffff_0000 && !(f_has_ports && in_range(f_dport, model_active[r][4]))) return 0;
    if (m[23:16] != 0 && !(f_tcp && (f_flags & m[23:16]) == m[31:24])) return 0;
    if (c[10] && !(f_has_icmp && f_icmp_type == m[15:8])) return 0;
    if (!in_range(f_len, model_active[r][5])) return 0;
    case (c[6:5])
        1: if (f_vlan_count != 0) return 0;
        2: if (!(f_vlan_count >= 1 && f_vid == model_active[r][2][11:0])) return 0;
        3: return 0;
        default: ;
    endcase
    case (c[8:7])
        1: if (!(f_ipv4 && !f_frag)) return 0;
        2: if (!(f_ipv4 && f_frag)) return 0;
        3: if (!(f_ipv4 && f_nonfirst)) return 0;
        default: ;
    endcase
    return 1;
endfunction

// Expected registered outputs for the inputs currently applied
bit                    exp_valid, exp_hit, exp_police_bytes;
logic [15:0]           exp_epoch;
int                    exp_idx;
logic [1:0]            exp_action;
logic [39:0]           exp_rate;
logic [31:0]           exp_burst;

task automatic compute_expected();
    exp_valid        = lk_valid;
    exp_hit          = 0;
    exp_idx          = 0;
    exp_action       = 0;
    exp_police_bytes = 0;
    exp_rate         = 0;
    exp_burst        = 0;
    exp_epoch        = model_swaps;
    for (int r = 0; r < NUM_RULES; r++) begin
        if (ref_match(r)) begin
            exp_hit          = 1;
            exp_idx          = r;
            exp_action       = model_active[r][0][2:1];
            exp_police_bytes = model_active[r][0][11];
            exp_rate         = {model_active[r][7][7:0], model_active[r][6]};
            exp_burst        = model_active[r][8];
            break;
        end
    end
endtask

int n_lookups = 0, n_hits = 0, n_hits_nonzero = 0, n_swaps_seen = 0;
int n_checks_readback = 0;

task automatic check_outputs(string what);
    if (lk_out_valid !== exp_valid) begin
        $fatal(1, "%s: lk_out_valid expected %0d, seen %0d", what, exp_valid, lk_out_valid);
    end
    if (lk_out_valid) begin
        n_lookups++;
        if (lk_out_hit !== exp_hit || lk_out_idx !== RULE_IDX_W'(exp_idx) || lk_out_action !== exp_action
                || lk_out_police_bytes !== exp_police_bytes || lk_out_rate !== exp_rate
                || lk_out_burst !== exp_burst || lk_out_epoch !== exp_epoch) begin
            $fatal(1, "%s: expected hit=%0d idx=%0d action=%0d pb=%0d rate=%h burst=%h epoch=%0d, seen hit=%0d idx=%0d action=%0d pb=%0d rate=%h burst=%h epoch=%0d",
                what, exp_hit, exp_idx, exp_action, exp_police_bytes, exp_rate, exp_burst, exp_epoch,
                lk_out_hit, lk_out_idx, lk_out_action, lk_out_police_bytes, lk_out_rate, lk_out_burst,
                lk_out_epoch);
        end
        if (exp_hit) n_hits++;
        if (exp_hit && exp_idx != 0) n_hits_nonzero++;
    end
    if (swap_count !== model_swaps) begin
        $fatal(1, "%s: swap_count expected %0d, seen %0d", what, model_swaps, swap_count);
    end
    // Combinational shadow read-back at the current read address
    if (cfg_rd_data !== ((int'(cfg_rd_rule) < NUM_RULES && int'(cfg_rd_word) < WORDS)
            ? model_shadow[cfg_rd_rule][cfg_rd_word] : 32'd0)) begin
        $fatal(1, "%s: shadow read rule %0d word %0d expected %h, seen %h", what, cfg_rd_rule, cfg_rd_word,
            (int'(cfg_rd_rule) < NUM_RULES && int'(cfg_rd_word) < WORDS) ? model_shadow[cfg_rd_rule][cfg_rd_word] : 32'd0,
            cfg_rd_data);
    end
    n_checks_readback++;
endtask

// Checker: at every edge, first compare the outputs of the previous cycle
// (still the pre-edge values here), then compute what the inputs applied now
// must produce, and update the model the way SPEC says the edge updates the DUT.
string cycle_what = "reset";
bit    checking = 1'b0;

always @(posedge clk) begin
    if (checking) begin
        check_outputs(cycle_what);
    end
    compute_expected();
    if (!rst) begin
        // A swap copies the shadow as it was before this edge's write
        if (swap_req) begin
            model_active = model_shadow;
            model_swaps++;
            n_swaps_seen++;
        end
        if (cfg_wr_en && int'(cfg_wr_rule) < NUM_RULES && int'(cfg_wr_word) < WORDS) begin
            model_shadow[cfg_wr_rule][cfg_wr_word] = cfg_wr_data;
        end
    end
end

// One clock with the inputs applied now; outputs are then checked on the
// next edge by the checker.
task automatic cycle(string what = "cycle");
    cycle_what = what;
    @(posedge clk);
    #1;
    cfg_wr_en = 1'b0;
    swap_req  = 1'b0;
endtask

// ------------------------------------------------------------ helpers

logic [63:0] rng_state;

function automatic logic [63:0] rnd();
    // xorshift64*: reproducible on any simulator
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 64'h2545F4914F6CDD1D;
endfunction

function automatic logic [31:0] rnd32();
    logic [63:0] v = rnd();
    return v[63:32];
endfunction

function automatic int rnd_below(int n);
    return int'(rnd() % 64'(n));
endfunction

task automatic write_word(int r, int w, logic [31:0] data);
    cfg_wr_en   = 1'b1;
    cfg_wr_rule = RULE_IDX_W'(r);
    cfg_wr_word = 5'(w);
    cfg_wr_data = data;
    cycle("write");
endtask

task automatic write_rule(int r, logic [31:0] words [WORDS]);
    for (int w = 0; w < n_words; w++) write_word(r, w, words[w]);
endtask

task automatic do_swap();
    swap_req = 1'b1;
    cycle("swap");
endtask

// An "any" rule with the given action
function automatic void any_rule(output logic [31:0] words [WORDS], input int action);
    for (int w = 0; w < WORDS; w++) words[w] = '0;
    words[0] = 32'(1 | (action << 1));
    words[3] = 32'hffff_0000;
    words[4] = 32'hffff_0000;
    words[5] = 32'hffff_0000;
endfunction

// Clear the whole shadow table and make it active
task automatic clear_table();
    for (int r = 0; r < n_rule_slots; r++) write_word(r, 0, 32'd0);
    do_swap();
endtask

// A default frame: untagged IPv4 TCP 10.0.0.1:1234 -> 10.0.0.2:80, flags ACK, 100 bytes
task automatic frame_default();
    f_ipv4 = 1; f_ipv6 = 0; f_vlan_count = 0; f_vid = 0; f_frag = 0; f_nonfirst = 0;
    f_proto = 6; f_src = 128'h0a000001; f_dst = 128'h0a000002; f_has_ports = 1;
    f_sport = 1234; f_dport = 80; f_tcp = 1; f_flags = 8'h10; f_has_icmp = 0; f_icmp_type = 0; f_len = 100;
endtask

// Look the current frame up; the reference computes the answer, and the
// directed expectation (hit, idx) is checked as well so a reference bug
// cannot hide a DUT bug.
task automatic expect_lookup(string what, bit hit, int idx = 0);
    lk_valid = 1'b1;
    cycle(what);
    lk_valid = 1'b0;
    if (lk_out_hit !== hit || (hit && lk_out_idx !== RULE_IDX_W'(idx))) begin
        $fatal(1, "%s: directed expectation hit=%0d idx=%0d, seen hit=%0d idx=%0d", what, hit, idx,
            lk_out_hit, lk_out_idx);
    end
endtask

// Rule 0 := words, swapped in
task automatic load_rule0(logic [31:0] words [WORDS]);
    write_rule(0, words);
    do_swap();
endtask

// ------------------------------------------------------------ directed

logic [31:0] rw [WORDS];
logic [31:0] rw2 [WORDS];

task automatic directed();
    // --- after reset: nothing matches, shadow reads 0
    frame_default();
    expect_lookup("reset: empty table", 0);
    for (int r = 0; r < n_rule_slots; r++) begin
        for (int w = 0; w < n_word_slots; w++) begin
            cfg_rd_rule = RULE_IDX_W'(r);
            cfg_rd_word = 5'(w);
            cycle("reset read-back");
        end
    end

    // --- an "any" rule matches every kind of frame
    any_rule(rw, 1);
    load_rule0(rw);
    frame_default();
    expect_lookup("any rule / ipv4", 1, 0);
    f_ipv4 = 0; f_ipv6 = 1;
    expect_lookup("any rule / ipv6", 1, 0);
    f_ipv6 = 0; f_proto = 0; f_has_ports = 0; f_tcp = 0; f_src = 0; f_dst = 0;
    expect_lookup("any rule / non-IP", 1, 0);
    // valid bit
    rw[0][0] = 0;
    load_rule0(rw);
    expect_lookup("invalid rule never matches", 0);

    // --- ipver
    for (int v = 1; v <= lim3; v++) begin
        any_rule(rw, 0);
        rw[0][4:3] = 2'(v);
        load_rule0(rw);
        frame_default();
        expect_lookup($sformatf("ipver %0d vs ipv4", v), v == 1, 0);
        f_ipv4 = 0; f_ipv6 = 1;
        expect_lookup($sformatf("ipver %0d vs ipv6", v), v == 2, 0);
        f_ipv6 = 0; f_proto = 0; f_has_ports = 0; f_tcp = 0;
        expect_lookup($sformatf("ipver %0d vs non-IP", v), v == 3, 0);
    end

    // --- IPv4 prefixes: src 10.1.0.0/16, then dst
    any_rule(rw, 1);
    rw[0][4:3] = 1;
    rw[9]  = 32'h0a010000;
    rw[13] = 32'hffff0000;
    load_rule0(rw);
    frame_default();
    f_src = 128'h0a010203;
    expect_lookup("src v4 prefix in_range_exp", 1, 0);
    f_src = 128'h0a01ffff;
    expect_lookup("src v4 prefix last address", 1, 0);
    f_src = 128'h0a020001;
    expect_lookup("src v4 prefix outside", 0);
    f_src = 128'h0a010203; f_dst = 128'h0a020001;
    any_rule(rw, 1);
    rw[17] = 32'hc0a80100;   // dst 192.168.1.0/24
    rw[21] = 32'hffffff00;
    load_rule0(rw);
    expect_lookup("dst v4 prefix outside", 0);
    f_dst = 128'hc0a801fe;
    expect_lookup("dst v4 prefix in_range_exp", 1, 0);
    f_dst = 128'hc0a802fe;
    expect_lookup("dst v4 prefix neighbour", 0);

    // --- IPv6 /64 on src: upper 64 bits compared, lower ignored
    any_rule(rw, 2);
    rw[0][4:3] = 2;
    rw[12] = 32'h20010db8; rw[11] = 32'h00010002;     // 2001:db8:1:2::/64
    rw[16] = 32'hffffffff; rw[15] = 32'hffffffff;
    load_rule0(rw);
    frame_default();
    f_ipv4 = 0; f_ipv6 = 1;
    f_src = 128'h20010db8_00010002_deadbeef_00000001;
    expect_lookup("src v6 /64 in_range_exp", 1, 0);
    f_src = 128'h20010db8_00010003_00000000_00000001;
    expect_lookup("src v6 /64 outside", 0);
    f_src = 128'h0;
    expect_lookup("src v6 /64 vs ::", 0);
    // IPv6 /128 on dst, difference in the last bit
    any_rule(rw, 2);
    rw[0][4:3] = 2;
    {rw[20], rw[19], rw[18], rw[17]} = 128'hfe80_0000_0000_0000_0000_0000_0000_0001;
    {rw[24], rw[23], rw[22], rw[21]} = '1;
    load_rule0(rw);
    f_dst = 128'hfe80_0000_0000_0000_0000_0000_0000_0001;
    expect_lookup("dst v6 /128 exact", 1, 0);
    f_dst = 128'hfe80_0000_0000_0000_0000_0000_0000_0003;
    expect_lookup("dst v6 /128 last bit differs", 0);

    // --- protocol
    any_rule(rw, 1);
    rw[0][9] = 1; rw[1][7:0] = 17;
    load_rule0(rw);
    frame_default();
    expect_lookup("proto 17 vs tcp", 0);
    f_proto = 17; f_tcp = 0; f_flags = 0;
    expect_lookup("proto 17 vs udp/v4", 1, 0);
    f_ipv4 = 0; f_ipv6 = 1;
    expect_lookup("proto 17 vs udp/v6", 1, 0);
    f_ipv6 = 0;   // non-IP with a stray proto value: the rule needs an IP frame
    expect_lookup("proto 17 vs non-IP", 0);

    // --- source / destination port ranges
    for (int which = 0; which < lim2; which++) begin
        any_rule(rw, 0);
        rw[3 + which] = {16'd2000, 16'd1000};
        load_rule0(rw);
        frame_default();
        for (int k = 0; k < lim6; k++) begin
            logic [15:0] port;
            bit          in_range_exp;
            port   = (k == 0) ? 16'd999 : (k == 1) ? 16'd1000 : (k == 2) ? 16'd1500
                   : (k == 3) ? 16'd2000 : (k == 4) ? 16'd2001 : 16'd65535;
            in_range_exp = k >= 1 && k <= 3;
            if (which == 0) f_sport = port; else f_dport = port;
            expect_lookup($sformatf("%s range 1000..2000 port %0d", which != 0 ? "dport" : "sport", port), in_range_exp, 0);
        end
        // same value but frame without ports
        if (which == 0) f_sport = 0; else f_dport = 0;
        f_has_ports = 0; f_tcp = 0; f_proto = 50;
        rw[3 + which] = {16'd65535, 16'd0};
        load_rule0(rw);
        expect_lookup("port range any vs frame without ports", 1, 0);
        rw[3 + which] = {16'd65534, 16'd0};
        load_rule0(rw);
        expect_lookup("port range 0..65534 vs frame without ports", 0);
        rw[3 + which] = {16'd0, 16'd0};
        load_rule0(rw);
        expect_lookup("port range 0..0 vs frame without ports (port field 0)", 0);
        f_has_ports = 1;
        expect_lookup("port range 0..0 vs port 0", 1, 0);
        rw[3 + which] = {16'd10, 16'd20};   // lo > hi never matches
        load_rule0(rw);
        if (which == 0) f_sport = 15; else f_dport = 15;
        expect_lookup("port range lo>hi", 0);
    end

    // --- TCP flags: SYN set, ACK clear
    any_rule(rw, 1);
    rw[1][23:16] = 8'h12; rw[1][31:24] = 8'h02;
    load_rule0(rw);
    frame_default();
    f_flags = 8'h02;
    expect_lookup("tcp SYN", 1, 0);
    f_flags = 8'h03;
    expect_lookup("tcp SYN+FIN (FIN not in mask)", 1, 0);
    f_flags = 8'h12;
    expect_lookup("tcp SYN+ACK", 0);
    f_flags = 8'h00;
    expect_lookup("tcp no flags", 0);
    f_tcp = 0; f_flags = 8'h02; f_proto = 17;
    expect_lookup("flags rule vs udp", 0);
    rw[1][23:16] = 8'h00;    // mask 0 = any, even for non-TCP
    load_rule0(rw);
    expect_lookup("flags mask 0 vs udp", 1, 0);

    // --- ICMP type
    any_rule(rw, 1);
    rw[0][10] = 1; rw[1][15:8] = 8;
    load_rule0(rw);
    frame_default();
    f_has_ports = 0; f_tcp = 0; f_flags = 0; f_sport = 0; f_dport = 0; f_proto = 1;
    f_has_icmp = 1; f_icmp_type = 8;
    expect_lookup("icmp echo request", 1, 0);
    f_icmp_type = 0;
    expect_lookup("icmp echo reply vs type 8", 0);
    f_has_icmp = 0; f_icmp_type = 8;
    expect_lookup("no icmp header", 0);
    rw[0][10] = 0;
    load_rule0(rw);
    expect_lookup("icmp_valid 0", 1, 0);

    // --- frame length
    any_rule(rw, 1);
    rw[5] = {16'd128, 16'd64};
    load_rule0(rw);
    frame_default();
    for (int k = 0; k < lim5; k++) begin
        f_len = (k == 0) ? 16'd63 : (k == 1) ? 16'd64 : (k == 2) ? 16'd100 : (k == 3) ? 16'd128 : 16'd129;
        expect_lookup($sformatf("len 64..128 vs %0d", f_len), k >= 1 && k <= 3, 0);
    end
    rw[5] = {16'd65535, 16'd0};
    load_rule0(rw);
    f_len = 16'd65535;
    expect_lookup("len any vs 65535", 1, 0);

    // --- VLAN modes
    any_rule(rw, 1);
    rw[0][6:5] = 1;
    load_rule0(rw);
    frame_default();
    expect_lookup("vlan untagged vs untagged", 1, 0);
    f_vlan_count = 1; f_vid = 100;
    expect_lookup("vlan untagged vs tagged", 0);
    rw[0][6:5] = 2; rw[2] = 100;
    load_rule0(rw);
    expect_lookup("vid 100 vs one tag 100", 1, 0);
    f_vlan_count = 2;
    expect_lookup("vid 100 vs two tags outer 100", 1, 0);
    f_vid = 101;
    expect_lookup("vid 100 vs outer 101", 0);
    f_vlan_count = 0; f_vid = 100;
    expect_lookup("vid 100 vs untagged", 0);
    rw[2] = 0;
    load_rule0(rw);
    f_vid = 0;
    expect_lookup("vid 0 vs untagged", 0);
    f_vlan_count = 1;
    expect_lookup("vid 0 vs tag 0", 1, 0);
    rw[0][6:5] = 3;
    load_rule0(rw);
    expect_lookup("vlan mode 3 (reserved) never matches", 0);

    // --- fragment modes: rows are unfragmented, first fragment, later fragment, IPv6
    for (int mode = 1; mode <= lim3; mode++) begin
        any_rule(rw, 1);
        rw[0][8:7] = 2'(mode);
        load_rule0(rw);
        frame_default();
        f_frag = 0; f_nonfirst = 0;
        expect_lookup($sformatf("frag mode %0d vs unfragmented", mode), mode == 1, 0);
        f_frag = 1; f_nonfirst = 0;
        expect_lookup($sformatf("frag mode %0d vs first fragment", mode), mode == 2, 0);
        f_frag = 1; f_nonfirst = 1; f_has_ports = 0; f_tcp = 0; f_sport = 0; f_dport = 0; f_flags = 0;
        expect_lookup($sformatf("frag mode %0d vs later fragment", mode), mode != 1, 0);
        f_ipv4 = 0; f_ipv6 = 1; f_frag = 0; f_nonfirst = 0;
        expect_lookup($sformatf("frag mode %0d vs ipv6", mode), 0);
    end

    // --- first match wins, and the winner's action/police fields come out
    clear_table();
    frame_default();
    expect_lookup("cleared table", 0);
    any_rule(rw, 2);
    rw[0][11] = 1; rw[6] = 32'h89abcdef; rw[7] = 32'h55; rw[8] = 32'h12345678;
    write_rule(5, rw);
    any_rule(rw2, 1);
    rw2[6] = 32'h11111111; rw2[7] = 32'h22; rw2[8] = 32'h33333333;
    rw2[0][9] = 1; rw2[1][7:0] = 6;   // TCP only
    write_rule(3, rw2);
    do_swap();
    expect_lookup("rules 3 and 5 match: 3 wins", 1, 3);
    f_proto = 17; f_tcp = 0;
    expect_lookup("only rule 5 matches", 1, 5);
    if (lk_out_action !== 2'd2 || lk_out_police_bytes !== 1'b1 || lk_out_rate !== 40'h55_89abcdef
            || lk_out_burst !== 32'h12345678) begin
        $fatal(1, "rule 5 outputs: expected action 2 pb 1 rate 5589abcdef burst 12345678, seen %0d %0d %h %h",
            lk_out_action, lk_out_police_bytes, lk_out_rate, lk_out_burst);
    end
    any_rule(rw, 0);
    write_rule(NUM_RULES - 1, rw);
    do_swap();
    f_proto = 6; f_tcp = 1;
    expect_lookup("last rule any, rule 3 still first", 1, 3);
    write_word(3, 0, 32'd0);
    write_word(5, 0, 32'd0);
    expect_lookup("shadow invalidations not yet active", 1, 3);
    do_swap();
    expect_lookup("after swap only the last rule", 1, NUM_RULES - 1);

    // --- epoch: the swap count of the table each lookup used. Two swaps in a
    // row must give a different epoch (a 1-bit epoch would toggle back).
    begin
        logic [15:0] e0;
        expect_lookup("epoch before two swaps", 1, NUM_RULES - 1);
        e0 = lk_out_epoch;
        do_swap();
        do_swap();
        expect_lookup("epoch after two swaps", 1, NUM_RULES - 1);
        if (lk_out_epoch !== e0 + 16'd2) begin
            $fatal(1, "two swaps: epoch expected %0d, seen %0d", e0 + 16'd2, lk_out_epoch);
        end
        // a lookup in the cycle of a swap still uses (and names) the old table
        swap_req = 1'b1;
        expect_lookup("lookup during a swap", 1, NUM_RULES - 1);
        if (lk_out_epoch !== e0 + 16'd2 || swap_count !== e0 + 16'd3) begin
            $fatal(1, "lookup during a swap: epoch/swap_count expected %0d/%0d, seen %0d/%0d",
                e0 + 16'd2, e0 + 16'd3, lk_out_epoch, swap_count);
        end
    end

    // --- out-of-range rule number: writes ignored, reads 0
    if (NUM_RULES < (1 << RULE_IDX_W)) begin
        write_word(NUM_RULES, 0, 32'h1);
        cfg_rd_rule = RULE_IDX_W'(NUM_RULES);
        cfg_rd_word = 0;
        cycle("read out-of-range rule");
    end
    // words 25..31 are not stored and read 0
    write_word(1, 25, 32'hdeadbeef);
    write_word(1, 31, 32'hdeadbeef);
    cfg_rd_rule = 1; cfg_rd_word = 25;
    cycle("read word 25");
    cfg_rd_word = 31;
    cycle("read word 31");
    // every bit of every word is stored and read back
    for (int w = 0; w < n_words; w++) write_word(2, w, 32'hffffffff ^ 32'(w));
    for (int w = 0; w < n_word_slots; w++) begin
        cfg_rd_rule = 2; cfg_rd_word = 5'(w);
        cycle("read back all words");
    end
endtask

// ------------------------------------------------------------ random

// Value pools make matches likely
function automatic logic [31:0] pool_v4();
    case (rnd_below(4))
        0: return 32'h0a000000 | 32'(rnd_below(4));
        1: return 32'h0a010200 | 32'(rnd_below(4));
        2: return 32'hc0a80100 | 32'(rnd_below(4));
        default: return rnd32();
    endcase
endfunction

function automatic logic [127:0] pool_v6();
    case (rnd_below(3))
        0: return {64'h20010db8_00000001, 62'd0, 2'(rnd_below(4))};
        1: return {64'hfe800000_00000000, 62'd0, 2'(rnd_below(4))};
        default: return {rnd(), rnd()};
    endcase
endfunction

function automatic logic [15:0] pool_port();
    case (rnd_below(6))
        0: return 16'd53;
        1: return 16'd80;
        2: return 16'd443;
        3: return 16'd1000 + 16'(rnd_below(3));
        4: return 16'd65535;
        default: return 16'(rnd32());
    endcase
endfunction

function automatic logic [7:0] pool_proto();
    case (rnd_below(5))
        0: return 8'd6;
        1: return 8'd17;
        2: return 8'd1;
        3: return 8'd58;
        default: return 8'd50;
    endcase
endfunction

function automatic logic [127:0] prefix_mask(int bits);
    logic [127:0] m = '0;
    for (int i = 0; i < bits; i++) m[127 - i] = 1'b1;
    return m;
endfunction

// A frame as the parser could produce it
task automatic random_frame();
    int kind = rnd_below(5);   // 0,1: IPv4  2,3: IPv6  4: non-IP
    f_ipv4 = kind < 2;
    f_ipv6 = kind == 2 || kind == 3;
    f_vlan_count = 2'(rnd_below(3));
    f_vid = f_vlan_count == 0 ? 12'd0 : (rnd_below(2) == 0 ? 12'd100 : 12'(rnd_below(4096)));
    f_frag = f_ipv4 && rnd_below(4) == 0;
    f_nonfirst = f_frag && rnd_below(2) == 0;
    f_proto = (f_ipv4 || f_ipv6) ? pool_proto() : 8'd0;
    f_src = f_ipv4 ? 128'(pool_v4()) : f_ipv6 ? pool_v6() : 128'd0;
    f_dst = f_ipv4 ? 128'(pool_v4()) : f_ipv6 ? pool_v6() : 128'd0;
    f_has_ports = (f_proto == 6 || f_proto == 17) && !f_nonfirst;
    f_sport = f_has_ports ? pool_port() : 16'd0;
    f_dport = f_has_ports ? pool_port() : 16'd0;
    f_tcp = f_has_ports && f_proto == 6;
    f_flags = f_tcp ? 8'(rnd32()) : 8'd0;
    f_has_icmp = !f_nonfirst && ((f_ipv4 && f_proto == 1) || (f_ipv6 && f_proto == 58));
    f_icmp_type = f_has_icmp ? (rnd_below(2) == 0 ? 8'd8 : 8'(rnd32())) : 8'd0;
    f_len = rnd_below(3) == 0 ? 16'd64 : 16'(14 + rnd_below(1600));
endtask

// A rule, mostly "any" per field so several rules match; sometimes raw noise
function automatic void random_rule(output logic [31:0] words [WORDS]);
    int ipver;
    if (rnd_below(10) == 0) begin
        for (int w = 0; w < WORDS; w++) words[w] = rnd32();
        return;
    end
    for (int w = 0; w < WORDS; w++) words[w] = '0;
    ipver = rnd_below(2) == 0 ? 0 : rnd_below(4);
    words[0][0]    = rnd_below(8) != 0;
    words[0][2:1]  = 2'(rnd_below(4));
    words[0][4:3]  = 2'(ipver);
    words[0][6:5]  = rnd_below(3) == 0 ? 2'(rnd_below(4)) : 2'd0;
    words[0][8:7]  = rnd_below(4) == 0 ? 2'(rnd_below(4)) : 2'd0;
    words[0][9]    = rnd_below(3) == 0;
    words[0][10]   = rnd_below(6) == 0;
    words[0][11]   = rnd_below(2) == 0;
    words[1][7:0]  = pool_proto();
    words[1][15:8] = rnd_below(2) == 0 ? 8'd8 : 8'(rnd32());
    if (rnd_below(3) == 0) begin
        words[1][23:16] = 8'(rnd32());
        words[1][31:24] = rnd_below(4) == 0 ? 8'(rnd32()) : (8'(rnd32()) & words[1][23:16]);
    end
    words[2] = rnd_below(2) == 0 ? 32'd100 : rnd32();
    for (int k = 3; k <= 5; k++) begin
        logic [15:0] a, b;
        if (rnd_below(2) == 0) begin
            words[k] = 32'hffff_0000;
        end else begin
            a = k == 5 ? 16'(rnd_below(1700)) : pool_port();
            b = k == 5 ? 16'(rnd_below(1700)) : (rnd_below(2) == 0 ? a : pool_port());
            words[k] = a <= b ? {b, a} : {a, b};
            if (rnd_below(10) == 0) words[k] = {a, b};   // possibly lo > hi
        end
    end
    words[6] = rnd32();
    words[7] = {24'd0, 8'(rnd32())};
    words[8] = rnd32();
    for (int which = 0; which < 2; which++) begin
        logic [127:0] addr, mask;
        addr = '0;
        mask = '0;
        if (rnd_below(3) == 0) begin
            if (ipver == 1 || (ipver == 0 && rnd_below(2) == 0)) begin
                addr = 128'(pool_v4());
                mask = prefix_mask(rnd_below(33)) >> 96;
            end else begin
                addr = pool_v6();
                mask = prefix_mask(rnd_below(129));
            end
        end
        {words[9 + 8*which + 3], words[9 + 8*which + 2], words[9 + 8*which + 1], words[9 + 8*which]} = addr;
        {words[13 + 8*which + 3], words[13 + 8*which + 2], words[13 + 8*which + 1], words[13 + 8*which]} = mask;
    end
endfunction

task automatic random_phase(int cycles);
    logic [31:0] pending [WORDS];
    int          pending_rule = -1;
    int          pending_word = 0;
    for (int i = 0; i < cycles; i++) begin
        // Start writing a new rule into the shadow, one word per cycle
        if (pending_rule < 0 && rnd_below(4) == 0) begin
            random_rule(pending);
            pending_rule = rnd_below(1 << RULE_IDX_W);   // may be out of range
            pending_word = 0;
        end
        if (pending_rule >= 0 && rnd_below(4) != 0) begin
            cfg_wr_en   = 1'b1;
            cfg_wr_rule = RULE_IDX_W'(pending_rule);
            cfg_wr_word = 5'(pending_word);
            cfg_wr_data = pending[pending_word];
            pending_word++;
            if (pending_word == WORDS) pending_rule = -1;
        end else if (rnd_below(50) == 0) begin
            // stray write, including to words 25..31
            cfg_wr_en   = 1'b1;
            cfg_wr_rule = RULE_IDX_W'(rnd_below(1 << RULE_IDX_W));
            cfg_wr_word = 5'(rnd_below(32));
            cfg_wr_data = rnd32();
        end
        swap_req = rnd_below(40) == 0;
        lk_valid = rnd_below(8) != 0;
        cfg_rd_rule = RULE_IDX_W'(rnd_below(1 << RULE_IDX_W));
        cfg_rd_word = 5'(rnd_below(32));
        random_frame();
        cycle($sformatf("random cycle %0d", i));
    end
    lk_valid = 1'b0;
endtask

// ------------------------------------------------------------ main

string       trace_path;
int unsigned seed = 1;
int          random_cycles = 40000;

initial begin
    if ($value$plusargs("trace=%s", trace_path)) begin
        $dumpfile(trace_path);
        $dumpvars(0, pf_rule_table_tb);
    end
    void'($value$plusargs("seed=%d", seed));
    void'($value$plusargs("cycles=%d", random_cycles));
    rng_state = 64'h9E3779B97F4A7C15 ^ 64'(seed);
    if (rng_state == 0) rng_state = 1;
    for (int r = 0; r < NUM_RULES; r++) begin
        for (int w = 0; w < WORDS; w++) begin
            model_shadow[r][w] = '0;
            model_active[r][w] = '0;
        end
    end

    // Garbage during reset must not stick
    rst = 1'b1;
    cfg_wr_en = 1'b1; cfg_wr_rule = 0; cfg_wr_word = 0; cfg_wr_data = 32'hffffffff; swap_req = 1'b1;
    repeat (3) @(posedge clk);
    #1;
    cfg_wr_en = 1'b0; swap_req = 1'b0;
    rst = 1'b0;
    checking = 1'b1;

    directed();
    random_phase(random_cycles);
    cycle("drain");
    cycle("drain");

    if (n_hits < random_cycles / 100 || n_hits_nonzero < random_cycles / 200 || n_lookups - n_hits < random_cycles / 100
            || n_swaps_seen < random_cycles / 100) begin
        $fatal(1, "random phase too weak: lookups %0d hits %0d (idx>0 %0d) swaps %0d", n_lookups, n_hits,
            n_hits_nonzero, n_swaps_seen);
    end
    $display("PASS pf_rule_table_tb: seed %0d, %0d lookups (%0d hits, %0d at idx>0), %0d swaps, %0d read-backs",
        seed, n_lookups, n_hits, n_hits_nonzero, n_swaps_seen, n_checks_readback);
    $finish;
end

initial begin
    // counted in cycles: a long # delay overflows 32 bits at 1 ps precision
    repeat (5_000_000) @(posedge clk);
    $fatal(1, "watchdog: pf_rule_table_tb did not finish");
end

endmodule
