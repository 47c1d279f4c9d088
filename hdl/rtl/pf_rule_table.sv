// Rule table of the packet filter (hdl/SPEC.md §3, rule words in §6).
//
// Two copies of the table: the shadow, written and read back by software one
// 32-bit word at a time, and the active one, used by lookups. swap_req copies
// the whole shadow into the active table on one clock edge, so a lookup always
// sees one complete table. Every rule is compared with the frame in parallel
// and the lowest-numbered valid rule that matches wins; the result is
// registered, one cycle after lk_valid.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module pf_rule_table #(
    // Number of rules in each table (1..1536, the size of the register window)
    parameter int NUM_RULES = 64,
    // Width of a rule index (derived, do not override)
    parameter int RULE_IDX_W = (NUM_RULES > 1) ? $clog2(NUM_RULES) : 1
) (
    input  wire logic                  clk,
    input  wire logic                  rst,

    // Shadow table write port (one rule word per cycle)
    input  wire logic                  cfg_wr_en,
    input  wire logic [RULE_IDX_W-1:0] cfg_wr_rule,
    input  wire logic [4:0]            cfg_wr_word,
    input  wire logic [31:0]           cfg_wr_data,

    // Shadow table read port (combinational; words 25..31 read 0)
    input  wire logic [RULE_IDX_W-1:0] cfg_rd_rule,
    input  wire logic [4:0]            cfg_rd_word,
    output wire logic [31:0]           cfg_rd_data,

    // Swap: active <= shadow on the clock edge where swap_req is high
    input  wire logic                  swap_req,
    output wire logic [15:0]           swap_count,
    output wire logic                  epoch,

    // Lookup request: parsed fields of a well-formed frame
    input  wire logic                  lk_valid,
    input  wire logic                  p_is_ipv4,
    input  wire logic                  p_is_ipv6,
    input  wire logic [1:0]            p_vlan_count,
    input  wire logic [11:0]           p_outer_vid,
    input  wire logic                  p_is_frag,
    input  wire logic                  p_is_nonfirst,
    input  wire logic [7:0]            p_proto,
    input  wire logic [127:0]          p_src_addr,
    input  wire logic [127:0]          p_dst_addr,
    input  wire logic                  p_has_ports,
    input  wire logic [15:0]           p_sport,
    input  wire logic [15:0]           p_dport,
    input  wire logic                  p_is_tcp,
    input  wire logic [7:0]            p_tcp_flags,
    input  wire logic                  p_has_icmp,
    input  wire logic [7:0]            p_icmp_type,
    input  wire logic [15:0]           lk_frame_len,

    // Lookup result, one cycle after lk_valid
    output wire logic                  lk_out_valid,
    output wire logic                  lk_out_hit,
    output wire logic [RULE_IDX_W-1:0] lk_out_idx,
    output wire logic [1:0]            lk_out_action,
    output wire logic                  lk_out_police_bytes,
    output wire logic [39:0]           lk_out_rate,
    output wire logic [31:0]           lk_out_burst,
    output wire logic                  lk_out_epoch
);

// Rule words 0..24 of SPEC §6, kept as one flat vector per rule: word w is
// bits [32*w +: 32], which puts the 128-bit address/mask fields (w9..w12 etc.,
// least significant word first) in contiguous bits.
localparam int RULE_WORDS = 25;
localparam int RULE_BITS  = RULE_WORDS * 32;

// Bit positions inside a rule vector
localparam int B_VALID        = 0;
localparam int B_ACTION       = 1;   // [2:1]
localparam int B_IPVER        = 3;   // [4:3]
localparam int B_VLAN_MODE    = 5;   // [6:5]
localparam int B_FRAG         = 7;   // [8:7]
localparam int B_PROTO_VALID  = 9;
localparam int B_ICMP_VALID   = 10;
localparam int B_POLICE_BYTES = 11;
localparam int B_PROTO        = 1*32 + 0;
localparam int B_ICMP_TYPE    = 1*32 + 8;
localparam int B_TCP_MASK     = 1*32 + 16;
localparam int B_TCP_VALUE    = 1*32 + 24;
localparam int B_VLAN_ID      = 2*32;
localparam int B_SPORT_LO     = 3*32;
localparam int B_SPORT_HI     = 3*32 + 16;
localparam int B_DPORT_LO     = 4*32;
localparam int B_DPORT_HI     = 4*32 + 16;
localparam int B_LEN_LO       = 5*32;
localparam int B_LEN_HI       = 5*32 + 16;
localparam int B_RATE         = 6*32;  // 40 bits over words 6 and 7
localparam int B_BURST        = 8*32;
localparam int B_SRC_ADDR     = 9*32;
localparam int B_SRC_MASK     = 13*32;
localparam int B_DST_ADDR     = 17*32;
localparam int B_DST_MASK     = 21*32;

initial begin
    if (NUM_RULES < 1 || NUM_RULES > 1536) begin
        $fatal(1, "%m: NUM_RULES must be 1..1536 (got %0d)", NUM_RULES);
    end
    if (RULE_IDX_W != ((NUM_RULES > 1) ? $clog2(NUM_RULES) : 1)) begin
        $fatal(1, "%m: RULE_IDX_W is derived from NUM_RULES, do not override it");
    end
end

logic [15:0] swap_count_reg = '0;
logic        epoch_reg = 1'b0;

assign swap_count = swap_count_reg;
assign epoch      = epoch_reg;

always_ff @(posedge clk) begin
    if (swap_req) begin
        swap_count_reg <= swap_count_reg + 16'd1;
        epoch_reg      <= !epoch_reg;
    end
    if (rst) begin
        swap_count_reg <= '0;
        epoch_reg      <= 1'b0;
    end
end

// Flat views of both tables, rule r at [RULE_BITS*r +: RULE_BITS]
logic [NUM_RULES*RULE_BITS-1:0] shadow_flat;
logic [NUM_RULES*RULE_BITS-1:0] active_flat;
// Per-rule match of the frame under lookup against the active table
logic [NUM_RULES-1:0]           rule_match;

// Word decode of the write port, shared by all rules
logic [RULE_WORDS-1:0] wr_word_sel;

always_comb begin
    for (int w = 0; w < RULE_WORDS; w++) begin
        wr_word_sel[w] = cfg_wr_word == 5'(w);
    end
end

for (genvar r = 0; r < NUM_RULES; r++) begin : g_rule
    // Shadow words are software-visible, so they all reset to 0. Of the
    // active copy only the valid bit needs a reset: with it clear, the
    // other bits never reach an output.
    logic [RULE_BITS-1:0] shadow_reg;
    logic [RULE_BITS-1:0] active_reg;

    always_ff @(posedge clk) begin
        for (int w = 0; w < RULE_WORDS; w++) begin
            if (cfg_wr_en && cfg_wr_rule == RULE_IDX_W'(r) && wr_word_sel[w]) begin
                shadow_reg[32*w +: 32] <= cfg_wr_data;
            end
        end
        if (rst) begin
            shadow_reg <= '0;
        end
    end

    always_ff @(posedge clk) begin
        if (swap_req) begin
            active_reg <= shadow_reg;
        end
        if (rst) begin
            active_reg[B_VALID] <= 1'b0;
        end
    end

    assign shadow_flat[RULE_BITS*r +: RULE_BITS] = shadow_reg;
    assign active_flat[RULE_BITS*r +: RULE_BITS] = active_reg;

    // Field views of the active rule
    wire         valid       = active_reg[B_VALID];
    wire [1:0]   ipver       = active_reg[B_IPVER +: 2];
    wire [1:0]   vlan_mode   = active_reg[B_VLAN_MODE +: 2];
    wire [1:0]   frag        = active_reg[B_FRAG +: 2];
    wire         proto_valid = active_reg[B_PROTO_VALID];
    wire         icmp_valid  = active_reg[B_ICMP_VALID];
    wire [7:0]   proto       = active_reg[B_PROTO +: 8];
    wire [7:0]   icmp_type   = active_reg[B_ICMP_TYPE +: 8];
    wire [7:0]   tcp_mask    = active_reg[B_TCP_MASK +: 8];
    wire [7:0]   tcp_value   = active_reg[B_TCP_VALUE +: 8];
    wire [11:0]  vlan_id     = active_reg[B_VLAN_ID +: 12];
    wire [15:0]  sport_lo    = active_reg[B_SPORT_LO +: 16];
    wire [15:0]  sport_hi    = active_reg[B_SPORT_HI +: 16];
    wire [15:0]  dport_lo    = active_reg[B_DPORT_LO +: 16];
    wire [15:0]  dport_hi    = active_reg[B_DPORT_HI +: 16];
    wire [15:0]  len_lo      = active_reg[B_LEN_LO +: 16];
    wire [15:0]  len_hi      = active_reg[B_LEN_HI +: 16];
    wire [127:0] src_addr    = active_reg[B_SRC_ADDR +: 128];
    wire [127:0] src_mask    = active_reg[B_SRC_MASK +: 128];
    wire [127:0] dst_addr    = active_reg[B_DST_ADDR +: 128];
    wire [127:0] dst_mask    = active_reg[B_DST_MASK +: 128];

    logic ipver_ok, src_ok, dst_ok, proto_ok, sport_ok, dport_ok;
    logic tcp_ok, icmp_ok, len_ok, vlan_ok, frag_ok;

    always_comb begin
        case (ipver)
            2'd0:    ipver_ok = 1'b1;
            2'd1:    ipver_ok = p_is_ipv4;
            2'd2:    ipver_ok = p_is_ipv6;
            default: ipver_ok = !p_is_ipv4 && !p_is_ipv6;
        endcase

        src_ok   = ((p_src_addr ^ src_addr) & src_mask) == '0;
        dst_ok   = ((p_dst_addr ^ dst_addr) & dst_mask) == '0;
        proto_ok = !proto_valid || ((p_is_ipv4 || p_is_ipv6) && p_proto == proto);

        // 0..65535 means "any" and matches frames without ports too
        sport_ok = (sport_lo == 16'h0000 && sport_hi == 16'hffff)
                || (p_has_ports && sport_lo <= p_sport && p_sport <= sport_hi);
        dport_ok = (dport_lo == 16'h0000 && dport_hi == 16'hffff)
                || (p_has_ports && dport_lo <= p_dport && p_dport <= dport_hi);

        tcp_ok   = tcp_mask == 8'h00 || (p_is_tcp && (p_tcp_flags & tcp_mask) == tcp_value);
        icmp_ok  = !icmp_valid || (p_has_icmp && p_icmp_type == icmp_type);
        len_ok   = len_lo <= lk_frame_len && lk_frame_len <= len_hi;

        case (vlan_mode)
            2'd0:    vlan_ok = 1'b1;
            2'd1:    vlan_ok = p_vlan_count == 2'd0;
            2'd2:    vlan_ok = p_vlan_count != 2'd0 && p_outer_vid == vlan_id;
            default: vlan_ok = 1'b0;  // reserved mode never matches (SPEC §3)
        endcase

        case (frag)
            2'd0:    frag_ok = 1'b1;
            2'd1:    frag_ok = p_is_ipv4 && !p_is_frag;
            2'd2:    frag_ok = p_is_ipv4 && p_is_frag;
            default: frag_ok = p_is_ipv4 && p_is_nonfirst;
        endcase

        rule_match[r] = valid && ipver_ok && src_ok && dst_ok && proto_ok && sport_ok
                     && dport_ok && tcp_ok && icmp_ok && len_ok && vlan_ok && frag_ok;
    end
end

// Shadow read-back
logic [RULE_BITS-1:0] rd_rule_bits;
logic [31:0]          rd_word_data;

always_comb begin
    rd_rule_bits = '0;
    for (int r = 0; r < NUM_RULES; r++) begin
        if (cfg_rd_rule == RULE_IDX_W'(r)) begin
            rd_rule_bits = shadow_flat[RULE_BITS*r +: RULE_BITS];
        end
    end
    rd_word_data = '0;
    for (int w = 0; w < RULE_WORDS; w++) begin
        if (cfg_rd_word == 5'(w)) begin
            rd_word_data = rd_rule_bits[32*w +: 32];
        end
    end
end

assign cfg_rd_data = rd_word_data;

// First match wins: isolate the lowest set bit, then AND-OR the winner's
// fields out of the table (cheaper and shallower than a priority mux chain).
logic [NUM_RULES-1:0]  lowest_match;
logic                  any_match;
logic [RULE_IDX_W-1:0] win_idx;
logic [1:0]            win_action;
logic                  win_police_bytes;
logic [39:0]           win_rate;
logic [31:0]           win_burst;

always_comb begin
    lowest_match      = rule_match & (~rule_match + NUM_RULES'(1));
    any_match        = rule_match != '0;
    win_idx          = '0;
    win_action       = '0;
    win_police_bytes = 1'b0;
    win_rate         = '0;
    win_burst        = '0;
    for (int r = 0; r < NUM_RULES; r++) begin
        if (lowest_match[r]) begin
            win_idx          = win_idx | RULE_IDX_W'(r);
            win_action       = win_action | active_flat[RULE_BITS*r + B_ACTION +: 2];
            win_police_bytes = win_police_bytes | active_flat[RULE_BITS*r + B_POLICE_BYTES];
            win_rate         = win_rate | active_flat[RULE_BITS*r + B_RATE +: 40];
            win_burst        = win_burst | active_flat[RULE_BITS*r + B_BURST +: 32];
        end
    end
end

logic                  out_valid_reg = 1'b0;
logic                  out_hit_reg;
logic [RULE_IDX_W-1:0] out_idx_reg;
logic [1:0]            out_action_reg;
logic                  out_police_bytes_reg;
logic [39:0]           out_rate_reg;
logic [31:0]           out_burst_reg;
logic                  out_epoch_reg;

always_ff @(posedge clk) begin
    out_valid_reg        <= lk_valid;
    out_hit_reg          <= lk_valid && any_match;
    out_idx_reg          <= win_idx;
    out_action_reg       <= win_action;
    out_police_bytes_reg <= win_police_bytes;
    out_rate_reg         <= win_rate;
    out_burst_reg        <= win_burst;
    // The table read this cycle is the one before any swap at this edge
    out_epoch_reg        <= epoch_reg;
    if (rst) begin
        out_valid_reg <= 1'b0;
    end
end

assign lk_out_valid        = out_valid_reg;
assign lk_out_hit          = out_hit_reg;
assign lk_out_idx          = out_idx_reg;
assign lk_out_action       = out_action_reg;
assign lk_out_police_bytes = out_police_bytes_reg;
assign lk_out_rate         = out_rate_reg;
assign lk_out_burst        = out_burst_reg;
assign lk_out_epoch        = out_epoch_reg;

endmodule

`resetall
