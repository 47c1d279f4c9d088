// Statistics counters of the packet filter (hdl/SPEC.md §5).
//
// Totals (in, passed, dropped, policed, malformed) and per-rule counters,
// each a 64-bit packet count and a 64-bit byte count, updated once per
// decided frame. Every counter has its own adder so any frame rate works.
// The read port is combinational.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module pf_counters #(
    // Number of rules with their own counters (1..1536)
    parameter int NUM_RULES = 64,
    // Width of a rule index, from NUM_RULES
    localparam int RULE_IDX_W = (NUM_RULES > 1) ? $clog2(NUM_RULES) : 1,
    // Width of the read index: a rule, or a total 0..4, so at least 3 bits
    localparam int CNT_IDX_W = (RULE_IDX_W > 3) ? RULE_IDX_W : 3
) (
    input  wire logic                  clk,
    input  wire logic                  rst,

    // One decided frame
    input  wire logic                  in_valid,
    input  wire logic [15:0]           in_len,
    input  wire logic                  in_hit,
    input  wire logic [RULE_IDX_W-1:0] in_idx,
    input  wire logic [1:0]            in_outcome,    // 0 passed, 1 dropped, 2 policed
    input  wire logic                  in_malformed,

    // Clear pulses; a clear beats an update of the same group in the same cycle
    input  wire logic                  clear_totals,
    input  wire logic                  clear_rules,

    // Read port
    input  wire logic                  rd_is_rule,
    input  wire logic [CNT_IDX_W-1:0]  rd_index,      // rule, or total 0 in .. 4 malformed
    input  wire logic                  rd_bytes,      // 0 packets, 1 bytes
    output wire logic [63:0]           rd_value
);

localparam int NUM_TOTALS    = 5;
localparam int TOT_IN        = 0;
localparam int TOT_PASSED    = 1;
localparam int TOT_DROPPED   = 2;
localparam int TOT_POLICED   = 3;
localparam int TOT_MALFORMED = 4;

initial begin
    if (NUM_RULES < 1 || NUM_RULES > 1536) begin
        $fatal(1, "%m: NUM_RULES must be 1..1536 (got %0d)", NUM_RULES);
    end
end

// Which totals this frame increments
logic [NUM_TOTALS-1:0] total_inc;

always_comb begin
    total_inc                = '0;
    total_inc[TOT_IN]        = in_valid;
    total_inc[TOT_PASSED]    = in_valid && in_outcome == 2'd0;
    total_inc[TOT_DROPPED]   = in_valid && in_outcome == 2'd1;
    total_inc[TOT_POLICED]   = in_valid && in_outcome == 2'd2;
    total_inc[TOT_MALFORMED] = in_valid && in_malformed;
end

// Counter k (total or rule) is element k of these arrays, for the read mux.
// They are wires (one element per generate block), not memories: mem2reg
// tells yosys so.
(* mem2reg *) logic [63:0] total_pkts_arr [NUM_TOTALS];
(* mem2reg *) logic [63:0] total_bytes_arr [NUM_TOTALS];
(* mem2reg *) logic [63:0] rule_pkts_arr [NUM_RULES];
(* mem2reg *) logic [63:0] rule_bytes_arr [NUM_RULES];

for (genvar k = 0; k < NUM_TOTALS; k++) begin : g_total
    logic [63:0] pkts_reg = '0;
    logic [63:0] bytes_reg = '0;

    always_ff @(posedge clk) begin
        if (clear_totals) begin
            pkts_reg  <= '0;
            bytes_reg <= '0;
        end else if (total_inc[k]) begin
            pkts_reg  <= pkts_reg + 64'd1;
            bytes_reg <= bytes_reg + 64'(in_len);
        end
        if (rst) begin
            pkts_reg  <= '0;
            bytes_reg <= '0;
        end
    end

    assign total_pkts_arr[k]  = pkts_reg;
    assign total_bytes_arr[k] = bytes_reg;
end

for (genvar r = 0; r < NUM_RULES; r++) begin : g_rule
    logic [63:0] pkts_reg = '0;
    logic [63:0] bytes_reg = '0;

    always_ff @(posedge clk) begin
        if (clear_rules) begin
            pkts_reg  <= '0;
            bytes_reg <= '0;
        end else if (in_valid && in_hit && in_idx == RULE_IDX_W'(r)) begin
            pkts_reg  <= pkts_reg + 64'd1;
            bytes_reg <= bytes_reg + 64'(in_len);
        end
        if (rst) begin
            pkts_reg  <= '0;
            bytes_reg <= '0;
        end
    end

    assign rule_pkts_arr[r]  = pkts_reg;
    assign rule_bytes_arr[r] = bytes_reg;
end

logic [63:0]           rd_value_mux;
logic [RULE_IDX_W-1:0] rd_rule;

// The rule bits of the index (the range check below looks at all of them)
assign rd_rule = RULE_IDX_W'(rd_index);

// Indexes past the last rule or total read 0
always_comb begin
    rd_value_mux = '0;
    if (rd_is_rule) begin
        if (32'(rd_index) < 32'(NUM_RULES)) begin
            rd_value_mux = rd_bytes ? rule_bytes_arr[rd_rule] : rule_pkts_arr[rd_rule];
        end
    end else begin
        for (int k = 0; k < NUM_TOTALS; k++) begin
            if (rd_index == CNT_IDX_W'(k)) begin
                rd_value_mux = rd_bytes ? total_bytes_arr[k] : total_pkts_arr[k];
            end
        end
    end
end

assign rd_value = rd_value_mux;

endmodule

`resetall
