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
    // Width of a rule index, from NUM_RULES
    localparam int RULE_IDX_W = (NUM_RULES > 1) ? $clog2(NUM_RULES) : 1
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

    // Swap: active <= shadow on the clock edge where swap_req is high; the
    // swap count (mod 2^16) names the active table and is the policer's epoch
    input  wire logic                  swap_req,
    output wire logic [15:0]           swap_count,

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
    output wire logic [15:0]           lk_out_epoch   // swap count of the table used
);

// Rule words 0..24 of SPEC §6, kept as one vector per rule: word w is bits
// [32*w +: 32], which puts the 128-bit address/mask fields (w9..w12 etc.,
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
localparam int B_SRC_ADDR     = 9*32;  // 128-bit fields: least significant word first
localparam int B_SRC_MASK     = 13*32;
localparam int B_DST_ADDR     = 17*32;
localparam int B_DST_MASK     = 21*32;

initial begin
    if (NUM_RULES < 1 || NUM_RULES > 1536) begin
        $fatal(1, "%m: NUM_RULES must be 1..1536 (got %0d)", NUM_RULES);
    end
end

logic [15:0] swap_count_reg = '0;

assign swap_count = swap_count_reg;

always_ff @(posedge clk) begin
    if (swap_req) begin
        swap_count_reg <= swap_count_reg + 16'd1;
    end
    if (rst) begin
        swap_count_reg <= '0;
    end
end

// Each rule's shadow and active copy live in its own generate block as one
// RULE_BITS vector (word w at bits [32*w +: 32]). What leaves a block is
// narrow: its match bit, the word the read port selects and the fields of a
// winning rule. No NUM_RULES*RULE_BITS-wide vector is ever formed, which would
// make a simulator copy the whole table around every cycle.
localparam int WIN_BITS = 2 + 1 + 40 + 32;   // action, police_bytes, rate, burst

// Rule words 25..31 and rule numbers NUM_RULES..2^RULE_IDX_W-1 are not stored
logic       rd_in_range;
logic [4:0] rd_word;
logic [4:0] wr_word;

assign rd_in_range = 32'(cfg_rd_rule) < 32'(NUM_RULES) && cfg_rd_word < 5'(RULE_WORDS);
assign rd_word     = (cfg_rd_word < 5'(RULE_WORDS)) ? cfg_rd_word : 5'd0;
assign wr_word     = (cfg_wr_word < 5'(RULE_WORDS)) ? cfg_wr_word : 5'd0;

// Word decode of the write port, shared by all rules
logic wr_word_ok;
assign wr_word_ok = cfg_wr_en && cfg_wr_word < 5'(RULE_WORDS);

// Per-rule outputs of the generate blocks: match of the frame under lookup
// against the active rule, shadow word at the read address, winner fields.
// The arrays are wires, not memories: mem2reg tells yosys so.
logic [NUM_RULES-1:0]              rule_match;
(* mem2reg *) logic [31:0]         rd_word_arr [NUM_RULES];
(* mem2reg *) logic [WIN_BITS-1:0] win_arr [NUM_RULES];

for (genvar r = 0; r < NUM_RULES; r++) begin : g_rule
    // Shadow words are software-visible, so they all reset to 0. Of the
    // active copy only the valid bit needs a reset: with it clear, the
    // other bits never reach an output.
    logic [RULE_BITS-1:0] shadow_reg;
    logic [RULE_BITS-1:0] active_reg;

    always_ff @(posedge clk) begin
        if (wr_word_ok && cfg_wr_rule == RULE_IDX_W'(r)) begin
            shadow_reg[32*wr_word +: 32] <= cfg_wr_data;
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

    assign rd_word_arr[r] = shadow_reg[32*rd_word +: 32];
    assign win_arr[r]     = {active_reg[B_ACTION +: 2], active_reg[B_POLICE_BYTES],
                             active_reg[B_RATE +: 40], active_reg[B_BURST +: 32]};

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
    end

    assign rule_match[r] = valid && ipver_ok && src_ok && dst_ok && proto_ok && sport_ok
                        && dport_ok && tcp_ok && icmp_ok && len_ok && vlan_ok && frag_ok;
end

// First match wins: a priority encoder over the match vector, then a mux of
// the winner's action and police fields. On a miss the fields read 0.
logic                  any_match;
logic [RULE_IDX_W-1:0] win_idx;
logic [1:0]            win_action;
logic                  win_police_bytes;
logic [39:0]           win_rate;
logic [31:0]           win_burst;

always_comb begin
    any_match = 1'b0;
    win_idx   = '0;
    for (int r = NUM_RULES - 1; r >= 0; r--) begin
        if (rule_match[r]) begin
            any_match = 1'b1;
            win_idx   = RULE_IDX_W'(r);
        end
    end
end

assign {win_action, win_police_bytes, win_rate, win_burst} = any_match ? win_arr[win_idx] : '0;

// Shadow read-back
assign cfg_rd_data = rd_in_range ? rd_word_arr[cfg_rd_rule] : 32'd0;

logic                  out_valid_reg = 1'b0;
logic                  out_hit_reg;
logic [RULE_IDX_W-1:0] out_idx_reg;
logic [1:0]            out_action_reg;
logic                  out_police_bytes_reg;
logic [39:0]           out_rate_reg;
logic [31:0]           out_burst_reg;
logic [15:0]           out_epoch_reg;

always_ff @(posedge clk) begin
    out_valid_reg        <= lk_valid;
    out_hit_reg          <= lk_valid && any_match;
    out_idx_reg          <= win_idx;
    out_action_reg       <= win_action;
    out_police_bytes_reg <= win_police_bytes;
    out_rate_reg         <= win_rate;
    out_burst_reg        <= win_burst;
    // The table read this cycle is the one before any swap at this edge, so
    // its epoch is the swap count before that swap's increment
    out_epoch_reg        <= swap_count_reg;
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
