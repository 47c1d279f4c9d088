// fpgactl-test: widths=64,512
// fpgactl-timeout: 120
//
// Self-checking test of pf_frame_capture.
//
// Random frames of 1..3*MAX_FRAME_BYTES/2 bytes (with the edge lengths around
// MAX_FRAME_BYTES and the beat size forced in), random tuser, random idle
// cycles between beats, a time_ns that changes every cycle. A reference model
// in the tb predicts each descriptor; the tb checks it appears exactly one
// cycle after the deciding beat with the right header bytes (zero past the
// end), clamped length, error flag and first-beat time, and that desc_valid
// is low in every other cycle.

`timescale 1ns / 1ps

module pf_frame_capture_tb #(
    // AXI4-Stream data width under test
    parameter int DATA_WIDTH = 64
);

localparam int BEAT_BYTES      = DATA_WIDTH / 8;
localparam int MAX_FRAME_BYTES = 200;
localparam int HDR_BYTES       = 96;
localparam int FRAMES          = 3000;

logic clk = 1'b0;
logic rst = 1'b1;
always #5 clk = ~clk;

logic [DATA_WIDTH-1:0]  s_axis_tdata = '0;
logic [BEAT_BYTES-1:0]  s_axis_tkeep = '0;
logic                   s_axis_tlast = 1'b0;
logic                   s_axis_tuser = 1'b0;
logic                   beat = 1'b0;
logic [63:0]            time_ns = '0;
logic                   desc_valid;
logic [HDR_BYTES*8-1:0] desc_hdr;
logic [15:0]            desc_len;
logic                   desc_err;
logic [63:0]            desc_ts;

pf_frame_capture #(
    .DATA_WIDTH      (DATA_WIDTH),
    .MAX_FRAME_BYTES (MAX_FRAME_BYTES),
    .HDR_BYTES       (HDR_BYTES)
) dut (
    .clk          (clk),
    .rst          (rst),
    .s_axis_tdata (s_axis_tdata),
    .s_axis_tkeep (s_axis_tkeep),
    .s_axis_tlast (s_axis_tlast),
    .s_axis_tuser (s_axis_tuser),
    .beat         (beat),
    .time_ns      (time_ns),
    .desc_valid   (desc_valid),
    .desc_hdr     (desc_hdr),
    .desc_len     (desc_len),
    .desc_err     (desc_err),
    .desc_ts      (desc_ts)
);

logic [31:0] rng_state = 32'h1;
function automatic logic [31:0] rnd();
    logic [31:0] x;
    x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
endfunction
function automatic int rnd_range(input int lo, input int hi);
    return lo + int'(rnd() % 32'(hi - lo + 1));
endfunction

// Reference model state
int                     m_len = 0;        // bytes of the current frame so far
bit                     m_in_frame = 0;
bit                     m_decided = 0;
logic [HDR_BYTES*8-1:0] m_hdr = '0;
logic [63:0]            m_ts = '0;
// Descriptor expected on the next edge
bit                     exp_valid = 0;
logic [HDR_BYTES*8-1:0] exp_hdr;
int                     exp_len;
bit                     exp_err;
logic [63:0]            exp_ts;

// Driver state
int  frames_left = FRAMES;
int  drv_left = 0;        // bytes of the current frame still to send
int  descs_seen = 0;
int  oversize_seen = 0;
longint cycle = 0;

function automatic int pick_len();
    case (rnd_range(0, 7))
        0: return rnd_range(MAX_FRAME_BYTES - 1, MAX_FRAME_BYTES + 2);
        1: return BEAT_BYTES * rnd_range(1, 4);
        2: return rnd_range(1, 20);
        3: return rnd_range(MAX_FRAME_BYTES + 1, 3 * MAX_FRAME_BYTES / 2);
        default: return rnd_range(1, MAX_FRAME_BYTES);
    endcase
endfunction

always @(posedge clk) begin
    if (!rst) begin
        // 1. The descriptor due now
        if (desc_valid != exp_valid) begin
            $fatal(1, "capture_tb: cycle %0d: desc_valid %b, expected %b", cycle, desc_valid, exp_valid);
        end
        if (exp_valid) begin
            if (desc_hdr != exp_hdr) begin
                $fatal(1, "capture_tb: descriptor %0d: header\n got %h\n exp %h", descs_seen, desc_hdr, exp_hdr);
            end
            if (int'(desc_len) != exp_len || desc_err != exp_err || desc_ts != exp_ts) begin
                $fatal(1, "capture_tb: descriptor %0d: len %0d err %b ts %0d, expected len %0d err %b ts %0d",
                       descs_seen, desc_len, desc_err, desc_ts, exp_len, exp_err, exp_ts);
            end
            descs_seen++;
        end
        exp_valid = 0;

        // 2. Model the beat of this cycle
        if (beat) begin
            int base = m_in_frame ? m_len : 0;
            if (!m_in_frame) begin
                m_hdr = '0;
                m_ts = time_ns;
                m_decided = 0;
            end
            for (int i = 0; i < BEAT_BYTES; i++) begin
                if (s_axis_tkeep[i] && base + i < HDR_BYTES) m_hdr[8*(base + i) +: 8] = s_axis_tdata[8*i +: 8];
            end
            m_len = base + $countones(s_axis_tkeep);
            m_in_frame = !s_axis_tlast;
            if (!m_decided && (s_axis_tlast || m_len > MAX_FRAME_BYTES)) begin
                exp_valid = 1;
                exp_hdr = m_hdr;
                exp_len = (m_len > MAX_FRAME_BYTES) ? MAX_FRAME_BYTES + 1 : m_len;
                exp_err = s_axis_tlast && s_axis_tuser;
                exp_ts = m_ts;
                m_decided = 1;
                if (m_len > MAX_FRAME_BYTES) oversize_seen++;
            end
        end

        // 3. Next beat (tkeep contiguous from bit 0; junk in unused lanes)
        if (drv_left == 0 && frames_left > 0) begin
            drv_left = pick_len();
            frames_left--;
        end
        if (drv_left > 0 && rnd_range(0, 3) != 0) begin
            int n = (drv_left < BEAT_BYTES) ? drv_left : BEAT_BYTES;
            logic [DATA_WIDTH-1:0] data;
            for (int i = 0; i < DATA_WIDTH / 32; i++) data[32*i +: 32] = rnd();
            s_axis_tdata <= data;
            s_axis_tkeep <= {BEAT_BYTES{1'b1}} >> (BEAT_BYTES - n);
            s_axis_tlast <= drv_left == n;
            s_axis_tuser <= rnd_range(0, 3) == 0;   // only meaningful on tlast
            beat         <= 1'b1;
            drv_left -= n;
        end else begin
            beat         <= 1'b0;
            s_axis_tuser <= 1'b1;                   // must be ignored when idle
        end
        time_ns <= 64'(cycle) * 7 + 64'd1000;
    end
    cycle++;
end

string trace_path;
int unsigned seed = 1;

initial begin
    if ($value$plusargs("trace=%s", trace_path)) begin
        $dumpfile(trace_path);
        $dumpvars(0, pf_frame_capture_tb);
    end
    void'($value$plusargs("seed=%d", seed));
    rng_state = (seed == 0) ? 32'h1 : 32'h9E37_79B9 ^ seed;
    repeat (5) @(posedge clk);
    @(negedge clk);
    rst = 1'b0;
    while (frames_left > 0 || drv_left > 0) begin
        @(posedge clk);
        if (cycle > 64'd10_000_000) $fatal(1, "capture_tb: watchdog: stimulus did not finish");
    end
    repeat (5) @(posedge clk);
    if (descs_seen != FRAMES) $fatal(1, "capture_tb: %0d descriptors seen, expected %0d", descs_seen, FRAMES);
    if (oversize_seen == 0) $fatal(1, "capture_tb: no oversize frame was exercised");
    $display("PASS pf_frame_capture_tb DATA_WIDTH=%0d: %0d descriptors (%0d oversize)", DATA_WIDTH, descs_seen, oversize_seen);
    $finish;
end

endmodule
