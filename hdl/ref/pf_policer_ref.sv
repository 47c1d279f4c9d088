// Per-rule token-bucket policer (hdl/SPEC.md §4): the SystemVerilog original,
// kept as the reference the Chisel pf_policer (hdl/chisel) is proven
// equivalent to by hdl/tb/pf_policer_equiv_tb.sv. Not part of the filter's
// RTL: only testbenches see it (tb_sources in fpgactl.yaml). Apart from the
// module name it is the pf_policer the filter used before the Chisel one.
//
// The bucket of the rule named by in_idx is read, refilled, charged and
// written back within one cycle, so a frame every cycle is handled correctly
// even when consecutive frames hit the same rule. The verdict is registered.
// A change of in_epoch (a new table became active) un-primes every bucket.
// The epoch is the rule table's 16-bit swap count, so any number of swaps
// between two police frames (short of a multiple of 2^16) is seen as a change.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module pf_policer_ref #(
    // Number of rules, one bucket each
    parameter int NUM_RULES = 64,
    // Width of a rule index, from NUM_RULES
    localparam int RULE_IDX_W = (NUM_RULES > 1) ? $clog2(NUM_RULES) : 1
) (
    input  wire logic                  clk,
    input  wire logic                  rst,

    // A frame that hit police rule in_idx, with the rule's configuration
    input  wire logic                  in_valid,
    input  wire logic [RULE_IDX_W-1:0] in_idx,
    input  wire logic [15:0]           in_epoch,        // swap count of the table used
    input  wire logic                  in_police_bytes,
    input  wire logic [39:0]           in_rate,
    input  wire logic [31:0]           in_burst,
    input  wire logic [63:0]           in_ts,
    input  wire logic [15:0]           in_len,

    // Verdict, one cycle after in_valid
    output wire logic                  out_valid,
    output wire logic                  out_conform
);

initial begin
    if (NUM_RULES < 1) begin
        $fatal(1, "%m: NUM_RULES must be at least 1 (got %0d)", NUM_RULES);
    end
end

// Bucket state. Only the primed bits are control state; tokens and last_ns
// are ignored until the bucket has been primed, so they need no reset.
logic [63:0]          tokens_mem [NUM_RULES];
logic [63:0]          last_ns_mem [NUM_RULES];
logic [NUM_RULES-1:0] primed_reg = '0;
logic [15:0]          epoch_reg = '0;

logic        cur_primed;
logic [63:0] cur_tokens;
logic [63:0] cur_last_ns;
logic [63:0] cap;
logic        time_back;   // borrow of in_ts - last_ns: the clock stepped back
logic [63:0] dt_raw;
logic [63:0] dt;
logic [31:0] dt_capped;
logic [71:0] add;
logic [63:0] room;
logic [63:0] filled;
logic [63:0] need;
logic        short;       // borrow of filled - need: not enough tokens
logic [63:0] after;
logic        conform;
logic [63:0] new_tokens;
logic        epoch_same;

// A frame from a new table sees every bucket un-primed
assign epoch_same  = in_epoch == epoch_reg;
assign cur_primed  = primed_reg[in_idx] && epoch_same;
assign cur_tokens  = tokens_mem[in_idx];
assign cur_last_ns = last_ns_mem[in_idx];

assign cap        = {in_burst, 32'd0};
// One subtract gives both the difference and the comparison (its borrow)
assign {time_back, dt_raw} = {1'b0, in_ts} - {1'b0, cur_last_ns};
assign dt         = time_back ? 64'd0 : dt_raw;
assign dt_capped  = (dt[63:32] != 32'd0) ? 32'hffff_ffff : dt[31:0];
assign add        = 72'(in_rate) * 72'(dt_capped);
assign room       = cap - cur_tokens;   // modulo 2^64, as in the model
assign filled     = (!cur_primed || add >= 72'(room)) ? cap : cur_tokens + add[63:0];
assign need       = 64'({in_police_bytes ? in_len : 16'd1, 32'd0});
assign {short, after} = {1'b0, filled} - {1'b0, need};
assign conform    = !short;
assign new_tokens = conform ? after : filled;

always_ff @(posedge clk) begin
    if (in_valid) begin
        tokens_mem[in_idx]  <= new_tokens;
        last_ns_mem[in_idx] <= in_ts;
    end
end

logic out_valid_reg = 1'b0;
logic out_conform_reg;

always_ff @(posedge clk) begin
    out_valid_reg   <= in_valid;
    out_conform_reg <= conform;
    if (in_valid) begin
        epoch_reg <= in_epoch;
        if (!epoch_same) begin
            primed_reg <= '0;
        end
        primed_reg[in_idx] <= 1'b1;
    end
    if (rst) begin
        out_valid_reg <= 1'b0;
        primed_reg    <= '0;
        epoch_reg     <= '0;
    end
end

assign out_valid   = out_valid_reg;
assign out_conform = out_conform_reg;

endmodule

`resetall
