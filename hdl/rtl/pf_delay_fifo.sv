// Fixed-delay FIFO of the packet filter (hdl/SPEC.md §1).
//
// Holds every accepted beat until it is exactly LATENCY cycles old, then
// either presents it on m_axis (frame passed) or discards it (frame dropped).
// Verdicts arrive on v_valid/v_pass, one per frame, in frame order, and must
// arrive before the frame's first beat is due; if one is late (input gaps
// upstream) the frame simply waits for it.
//
// Age is tracked without timestamps: a LATENCY-1 stage shift line carries a
// 1 for every accepted beat, and when a 1 falls out of the line the count of
// aged beats in the FIFO goes up. Beats leave in order, so the head beat is
// due exactly when that count is non-zero.
//
// The FIFO memory is read asynchronously (distributed RAM / registers), which
// keeps m_axis_tvalid free of a read-latency bubble.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module pf_delay_fifo #(
    // Width of the AXI4-Stream data bus in bits (multiple of 8)
    parameter int DATA_WIDTH = 64,
    // Cycles from a beat's acceptance on s_axis to its presentation on m_axis
    parameter int LATENCY    = 32,
    // Beats the FIFO can hold; a power of two greater than LATENCY + 4
    parameter int DEPTH      = 64
) (
    input  wire logic                    clk,
    input  wire logic                    rst,

    // Input stream
    input  wire logic [DATA_WIDTH-1:0]   s_axis_tdata,
    input  wire logic [DATA_WIDTH/8-1:0] s_axis_tkeep,
    input  wire logic                    s_axis_tvalid,
    output wire logic                    s_axis_tready,
    input  wire logic                    s_axis_tlast,
    input  wire logic                    s_axis_tuser,

    // Output stream (dropped frames never appear)
    output wire logic [DATA_WIDTH-1:0]   m_axis_tdata,
    output wire logic [DATA_WIDTH/8-1:0] m_axis_tkeep,
    output wire logic                    m_axis_tvalid,
    input  wire logic                    m_axis_tready,
    output wire logic                    m_axis_tlast,
    output wire logic                    m_axis_tuser,

    // Frame verdicts, in frame order (1 = pass, 0 = drop)
    input  wire logic                    v_valid,
    input  wire logic                    v_pass
);

localparam int KEEP_WIDTH = DATA_WIDTH / 8;
localparam int ADDR_W     = (DEPTH > 1) ? $clog2(DEPTH) : 1;
// Stored per beat: data, keep, last, user
localparam int WORD_W     = DATA_WIDTH + KEEP_WIDTH + 2;

initial begin
    if (DATA_WIDTH < 8 || DATA_WIDTH % 8 != 0) begin
        $fatal(1, "%m: DATA_WIDTH must be a positive multiple of 8 (got %0d)", DATA_WIDTH);
    end
    if (LATENCY < 2) begin
        $fatal(1, "%m: LATENCY must be at least 2 (got %0d)", LATENCY);
    end
    if (DEPTH <= LATENCY + 4 || (DEPTH & (DEPTH - 1)) != 0) begin
        $fatal(1, "%m: DEPTH must be a power of two greater than LATENCY + 4 (got %0d, LATENCY %0d)",
               DEPTH, LATENCY);
    end
end

`ifdef VERILATOR
// Initial blocks are not run by a Verilator lint; repeat the checks as an
// elaboration-time error so a bad configuration cannot even lint
if (!(DATA_WIDTH >= 8 && DATA_WIDTH % 8 == 0 && LATENCY >= 2
      && DEPTH > LATENCY + 4 && (DEPTH & (DEPTH - 1)) == 0)) begin : g_bad_parameters
    $fatal(1, "pf_delay_fifo: unsupported parameters DATA_WIDTH=%0d LATENCY=%0d DEPTH=%0d", DATA_WIDTH, LATENCY, DEPTH);
end
`endif

// ---------------------------------------------------------------------------
// Beat FIFO
// ---------------------------------------------------------------------------
logic [WORD_W-1:0] beat_mem [DEPTH];
// Pointers carry one extra bit to tell full from empty. They are public to
// the C++ model so the simulated board (sim/board) knows when nothing is in
// flight and may skip idle cycles.
logic [ADDR_W:0] wr_ptr_reg /* verilator public_flat_rd */ = '0;
logic [ADDR_W:0] rd_ptr_reg /* verilator public_flat_rd */ = '0;

// No empty flag is needed: a non-zero aged count implies a beat is stored
logic full;
assign full  = (wr_ptr_reg[ADDR_W] != rd_ptr_reg[ADDR_W])
            && (wr_ptr_reg[ADDR_W-1:0] == rd_ptr_reg[ADDR_W-1:0]);

logic push;
assign s_axis_tready = !full;
assign push = s_axis_tvalid && !full;

always_ff @(posedge clk) begin
    if (push) begin
        beat_mem[wr_ptr_reg[ADDR_W-1:0]] <= {s_axis_tuser, s_axis_tlast, s_axis_tkeep, s_axis_tdata};
    end
end

logic [WORD_W-1:0] head;
logic              head_last;
assign head      = beat_mem[rd_ptr_reg[ADDR_W-1:0]];
assign head_last = head[DATA_WIDTH + KEEP_WIDTH];

// ---------------------------------------------------------------------------
// Age line: a 1 leaves the line LATENCY - 1 cycles after the beat's push edge,
// and the aged count it bumps is seen on the LATENCY-th cycle after acceptance
// ---------------------------------------------------------------------------
localparam int LINE_LEN = LATENCY - 1;
logic [LINE_LEN-1:0] age_line_reg = '0;
logic [ADDR_W:0]     aged_count_reg = '0;
logic                line_out;

assign line_out = age_line_reg[LINE_LEN-1];

generate
    if (LINE_LEN == 1) begin : g_line_one
        always_ff @(posedge clk) begin
            age_line_reg <= push;
            if (rst) age_line_reg <= '0;
        end
    end else begin : g_line
        always_ff @(posedge clk) begin
            age_line_reg <= {age_line_reg[LINE_LEN-2:0], push};
            if (rst) age_line_reg <= '0;
        end
    end
endgenerate

// ---------------------------------------------------------------------------
// Verdict FIFO. Each queued verdict belongs to a frame whose first beat is
// still in the beat FIFO, so DEPTH entries can never overflow.
// ---------------------------------------------------------------------------
logic            verdict_mem [DEPTH];
logic [ADDR_W:0] v_wr_ptr_reg = '0;
logic [ADDR_W:0] v_rd_ptr_reg = '0;
logic            verdict_ready;
logic            verdict_head;
assign verdict_ready = v_wr_ptr_reg != v_rd_ptr_reg;
assign verdict_head  = verdict_mem[v_rd_ptr_reg[ADDR_W-1:0]];

always_ff @(posedge clk) begin
    if (v_valid) begin
        verdict_mem[v_wr_ptr_reg[ADDR_W-1:0]] <= v_pass;
    end
end

// ---------------------------------------------------------------------------
// Output side: the head beat leaves when it is due and its frame's verdict is
// known; passed beats wait for m_axis_tready, dropped ones go at once
// ---------------------------------------------------------------------------
logic mid_frame_reg = 1'b0;   // the head beat is not the first of its frame
logic frame_pass_reg = 1'b0;  // verdict of the frame in progress

logic head_due, verdict_known, pass_now, pop;
assign head_due      = aged_count_reg != '0;
assign verdict_known = mid_frame_reg || verdict_ready;
assign pass_now      = mid_frame_reg ? frame_pass_reg : verdict_head;
assign pop           = head_due && verdict_known && (!pass_now || m_axis_tready);

assign m_axis_tvalid = head_due && verdict_known && pass_now;
assign m_axis_tdata  = head[DATA_WIDTH-1:0];
assign m_axis_tkeep  = head[DATA_WIDTH +: KEEP_WIDTH];
assign m_axis_tlast  = head_last;
assign m_axis_tuser  = head[DATA_WIDTH + KEEP_WIDTH + 1];

always_ff @(posedge clk) begin
    if (push) begin
        wr_ptr_reg <= wr_ptr_reg + 1'b1;
    end
    if (v_valid) begin
        v_wr_ptr_reg <= v_wr_ptr_reg + 1'b1;
    end

    // aged_count can go up and down in the same cycle
    aged_count_reg <= aged_count_reg + {{ADDR_W{1'b0}}, line_out} - {{ADDR_W{1'b0}}, pop};

    if (pop) begin
        rd_ptr_reg <= rd_ptr_reg + 1'b1;
        if (!mid_frame_reg) begin
            v_rd_ptr_reg   <= v_rd_ptr_reg + 1'b1;
            frame_pass_reg <= verdict_head;
        end
        mid_frame_reg <= !head_last;
    end

    if (rst) begin
        wr_ptr_reg     <= '0;
        rd_ptr_reg     <= '0;
        v_wr_ptr_reg   <= '0;
        v_rd_ptr_reg   <= '0;
        aged_count_reg <= '0;
        mid_frame_reg  <= 1'b0;
        frame_pass_reg <= 1'b0;
    end
end

endmodule

`resetall
