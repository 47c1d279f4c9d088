// Frame capture of the packet filter (hdl/SPEC.md §1, §2).
//
// Watches the accepted beats of the input stream and, once per frame, emits a
// descriptor: the first HDR_BYTES bytes of the frame, its length (clamped to
// MAX_FRAME_BYTES + 1), the MAC error flag and the time of its first beat.
// The descriptor is produced on the frame's deciding beat (tlast, or the beat
// that makes the frame longer than MAX_FRAME_BYTES) and shows up, registered,
// one cycle later. After an oversize decision the rest of the frame is only
// skipped, so every frame yields exactly one descriptor.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module pf_frame_capture #(
    // Width of the AXI4-Stream data bus in bits (multiple of 8)
    parameter int DATA_WIDTH      = 64,
    // Longest frame that is parsed; longer frames are reported oversize
    parameter int MAX_FRAME_BYTES = 9216,
    // Number of leading frame bytes handed to the parser
    parameter int HDR_BYTES       = 96
) (
    input  wire logic                    clk,
    input  wire logic                    rst,

    // Input stream, observed only (the delay FIFO owns the handshake)
    input  wire logic [DATA_WIDTH-1:0]   s_axis_tdata,
    input  wire logic [DATA_WIDTH/8-1:0] s_axis_tkeep,
    input  wire logic                    s_axis_tlast,
    input  wire logic                    s_axis_tuser,
    input  wire logic                    beat,
    input  wire logic [63:0]             time_ns,

    // Frame descriptor, valid for one cycle after the deciding beat
    output wire logic                    desc_valid,
    output wire logic [HDR_BYTES*8-1:0]  desc_hdr,
    output wire logic [15:0]             desc_len,
    output wire logic                    desc_err,
    output wire logic [63:0]             desc_ts
);

localparam int BEAT_BYTES = DATA_WIDTH / 8;
// Beats that cover the header, and the header buffer rounded up to whole beats
localparam int HDR_BEATS  = (HDR_BYTES + BEAT_BYTES - 1) / BEAT_BYTES;
localparam int BUF_BYTES  = HDR_BEATS * BEAT_BYTES;
// Beat counter saturates at HDR_BEATS: beats after the header are not stored
localparam int BEAT_CNT_W = $clog2(HDR_BEATS + 1);
localparam int KEEP_CNT_W = $clog2(BEAT_BYTES + 1);
localparam logic [15:0] LEN_CLAMP = 16'(MAX_FRAME_BYTES + 1);

// Parameter checks (run at elaboration by Verilator and yosys, at time 0 by Icarus)
initial begin
    if (DATA_WIDTH < 8 || DATA_WIDTH % 8 != 0) begin
        $fatal(1, "%m: DATA_WIDTH must be a positive multiple of 8 (got %0d)", DATA_WIDTH);
    end
    if (MAX_FRAME_BYTES < 64 || MAX_FRAME_BYTES > 16383) begin
        $fatal(1, "%m: MAX_FRAME_BYTES must be 64..16383 (got %0d)", MAX_FRAME_BYTES);
    end
    if (HDR_BYTES < 1 || HDR_BYTES > MAX_FRAME_BYTES) begin
        $fatal(1, "%m: HDR_BYTES must be 1..MAX_FRAME_BYTES (got %0d)", HDR_BYTES);
    end
end

`ifdef VERILATOR
// Initial blocks are not run by a Verilator lint; repeat the checks as an
// elaboration-time error so a bad configuration cannot even lint
if (!(DATA_WIDTH >= 8 && DATA_WIDTH % 8 == 0 && MAX_FRAME_BYTES >= 64 && MAX_FRAME_BYTES <= 16383
      && HDR_BYTES >= 1 && HDR_BYTES <= MAX_FRAME_BYTES)) begin : g_bad_parameters
    $fatal(1, "pf_frame_capture: unsupported parameters DATA_WIDTH=%0d MAX_FRAME_BYTES=%0d HDR_BYTES=%0d", DATA_WIDTH, MAX_FRAME_BYTES, HDR_BYTES);
end
`endif

// Control state
logic                  in_frame_reg = 1'b0;    // a frame has started and has not ended
logic                  skipping_reg = 1'b0;    // frame decided as oversize, waiting for tlast
logic [BEAT_CNT_W-1:0] beat_idx_reg = '0;      // beat number within the frame, saturating
logic [15:0]           len_reg      = '0;      // bytes so far, saturating at LEN_CLAMP
logic                  desc_valid_reg = 1'b0;

// Data (not reset)
logic [BUF_BYTES*8-1:0] hdr_buf_reg;
logic [63:0]            ts_reg;
logic [HDR_BYTES*8-1:0] desc_hdr_reg;
logic [15:0]            desc_len_reg;
logic                   desc_err_reg;
logic [63:0]            desc_ts_reg;

assign desc_valid = desc_valid_reg;
assign desc_hdr   = desc_hdr_reg;
assign desc_len   = desc_len_reg;
assign desc_err   = desc_err_reg;
assign desc_ts    = desc_ts_reg;

// Input bytes with invalid lanes zeroed, so bytes past the end read 0
logic [DATA_WIDTH-1:0] masked_data;
logic [KEEP_CNT_W-1:0] keep_count;
always_comb begin
    keep_count = '0;
    for (int i = 0; i < BEAT_BYTES; i++) begin
        masked_data[8*i +: 8] = s_axis_tkeep[i] ? s_axis_tdata[8*i +: 8] : 8'd0;
        keep_count = keep_count + KEEP_CNT_W'(s_axis_tkeep[i]);
    end
end

// Header as it stands including the current beat; a new frame starts from zero
logic [BUF_BYTES*8-1:0] hdr_next;
always_comb begin
    hdr_next = in_frame_reg ? hdr_buf_reg : '0;
    for (int b = 0; b < HDR_BEATS; b++) begin
        if (beat_idx_reg == BEAT_CNT_W'(b)) begin
            hdr_next[b*DATA_WIDTH +: DATA_WIDTH] = masked_data;
        end
    end
end

// Length including the current beat, clamped (17 bits: cannot overflow)
logic [16:0] len_sum;
logic [15:0] len_next;
logic        over_next;
assign len_sum   = {1'b0, in_frame_reg ? len_reg : 16'd0} + 17'(keep_count);
assign over_next = len_sum > 17'(MAX_FRAME_BYTES);
assign len_next  = over_next ? LEN_CLAMP : len_sum[15:0];

// A beat decides the frame when it ends it or first makes it too long
logic skipping_now;
logic deciding;
assign skipping_now = in_frame_reg && skipping_reg;
assign deciding     = beat && !skipping_now && (s_axis_tlast || over_next);

always_ff @(posedge clk) begin
    desc_valid_reg <= deciding;

    if (beat) begin
        hdr_buf_reg <= hdr_next;
        if (!in_frame_reg) begin
            ts_reg <= time_ns;
        end
    end

    if (deciding) begin
        desc_hdr_reg <= hdr_next[HDR_BYTES*8-1:0];
        desc_len_reg <= len_next;
        // An oversize decision before tlast has no MAC status yet
        desc_err_reg <= s_axis_tlast && s_axis_tuser;
        desc_ts_reg  <= in_frame_reg ? ts_reg : time_ns;
    end

    if (beat) begin
        if (s_axis_tlast) begin
            in_frame_reg <= 1'b0;
            skipping_reg <= 1'b0;
            beat_idx_reg <= '0;
            len_reg      <= '0;
        end else begin
            in_frame_reg <= 1'b1;
            skipping_reg <= skipping_now || over_next;
            len_reg      <= len_next;
            if (beat_idx_reg != BEAT_CNT_W'(HDR_BEATS)) begin
                beat_idx_reg <= beat_idx_reg + 1'b1;
            end
        end
    end

    if (rst) begin
        in_frame_reg   <= 1'b0;
        skipping_reg   <= 1'b0;
        beat_idx_reg   <= '0;
        len_reg        <= '0;
        desc_valid_reg <= 1'b0;
    end
end

endmodule

`resetall
