// fpgactl-test: widths=64,512
// fpgactl-vectors: features,malformed,malformed_pass,police,default_drop,zero_bubble,backpressure,random
// fpgactl-timeout: 300
//
// Whole-filter test driven by golden-model vectors (hdl/SPEC.md §7).
//
// Loads the vector files from +vectors=DIR, checks the ID/CONFIG/GEOMETRY
// registers, performs the register writes, streams every frame (idle cycles
// after each as the descriptor says), checks every output frame byte for byte
// (tkeep, tlast, tuser too) and in order against expect.hex, fails on any
// extra or missing frame, then reads the counters over AXI4-Lite.
// meta flags: bit0 = gap-free input with m_axis_tready high: s_axis_tready must
// never drop and every output beat must come out exactly LATENCY cycles after
// its input beat; bit1 = m_axis_tready toggles pseudo-randomly (+seed=N).

`timescale 1ns / 1ps

module pf_filter_tb #(
    // AXI4-Stream data width under test
    parameter int DATA_WIDTH      = 64,
    // Must match the geometry the vectors were generated for
    parameter int NUM_RULES       = 64,
    parameter int MAX_FRAME_BYTES = 9216
);

localparam int BEAT_BYTES = DATA_WIDTH / 8;
localparam int LATENCY    = (MAX_FRAME_BYTES + BEAT_BYTES - 1) / BEAT_BYTES + 5;
localparam int ADDR_W     = 20;

// Capacity of the vector buffers
localparam int MAX_FILE_BYTES = 1 << 25;
localparam int MAX_FRAMES     = 1 << 18;
localparam int MAX_REGS       = 1 << 16;
localparam int MAX_CHECKS     = 1 << 14;

logic clk = 1'b0;
logic rst = 1'b1;
always #5 clk = ~clk;

// DUT signals
logic [DATA_WIDTH-1:0]   s_axis_tdata = '0;
logic [DATA_WIDTH/8-1:0] s_axis_tkeep = '0;
logic                    s_axis_tvalid = 1'b0;
logic                    s_axis_tready;
logic                    s_axis_tlast = 1'b0;
logic                    s_axis_tuser = 1'b0;
logic [DATA_WIDTH-1:0]   m_axis_tdata;
logic [DATA_WIDTH/8-1:0] m_axis_tkeep;
logic                    m_axis_tvalid;
logic                    m_axis_tready = 1'b1;
logic                    m_axis_tlast;
logic                    m_axis_tuser;
logic [63:0]             time_ns = '0;

logic [ADDR_W-1:0] s_axil_awaddr = '0;
logic              s_axil_awvalid = 1'b0;
logic              s_axil_awready;
logic [31:0]       s_axil_wdata = '0;
logic [3:0]        s_axil_wstrb = '0;
logic              s_axil_wvalid = 1'b0;
logic              s_axil_wready;
logic [1:0]        s_axil_bresp;
logic              s_axil_bvalid;
logic              s_axil_bready = 1'b0;
logic [ADDR_W-1:0] s_axil_araddr = '0;
logic              s_axil_arvalid = 1'b0;
logic              s_axil_arready;
logic [31:0]       s_axil_rdata;
logic [1:0]        s_axil_rresp;
logic              s_axil_rvalid;
logic              s_axil_rready = 1'b0;

pf_filter #(
    .DATA_WIDTH      (DATA_WIDTH),
    .NUM_RULES       (NUM_RULES),
    .MAX_FRAME_BYTES (MAX_FRAME_BYTES),
    .AXIL_ADDR_WIDTH (ADDR_W)
) dut (
    .clk            (clk),
    .rst            (rst),
    .s_axis_tdata   (s_axis_tdata),
    .s_axis_tkeep   (s_axis_tkeep),
    .s_axis_tvalid  (s_axis_tvalid),
    .s_axis_tready  (s_axis_tready),
    .s_axis_tlast   (s_axis_tlast),
    .s_axis_tuser   (s_axis_tuser),
    .m_axis_tdata   (m_axis_tdata),
    .m_axis_tkeep   (m_axis_tkeep),
    .m_axis_tvalid  (m_axis_tvalid),
    .m_axis_tready  (m_axis_tready),
    .m_axis_tlast   (m_axis_tlast),
    .m_axis_tuser   (m_axis_tuser),
    .time_ns        (time_ns),
    .s_axil_awaddr  (s_axil_awaddr),
    .s_axil_awprot  (3'd0),
    .s_axil_awvalid (s_axil_awvalid),
    .s_axil_awready (s_axil_awready),
    .s_axil_wdata   (s_axil_wdata),
    .s_axil_wstrb   (s_axil_wstrb),
    .s_axil_wvalid  (s_axil_wvalid),
    .s_axil_wready  (s_axil_wready),
    .s_axil_bresp   (s_axil_bresp),
    .s_axil_bvalid  (s_axil_bvalid),
    .s_axil_bready  (s_axil_bready),
    .s_axil_araddr  (s_axil_araddr),
    .s_axil_arprot  (3'd0),
    .s_axil_arvalid (s_axil_arvalid),
    .s_axil_arready (s_axil_arready),
    .s_axil_rdata   (s_axil_rdata),
    .s_axil_rresp   (s_axil_rresp),
    .s_axil_rvalid  (s_axil_rvalid),
    .s_axil_rready  (s_axil_rready)
);

// ---------------------------------------------------------------------------
// Vectors
// ---------------------------------------------------------------------------
logic [31:0]  meta_mem [6];
logic [63:0]  regs_mem [MAX_REGS];
logic [7:0]   frames_mem [MAX_FILE_BYTES];
logic [127:0] desc_mem [MAX_FRAMES];
logic [31:0]  expect_mem [MAX_FRAMES];
logic [95:0]  counters_mem [MAX_CHECKS];

int n_frames, n_regs, n_expect, n_checks, n_bytes;
bit gap_free, random_ready;
int first_beat [MAX_FRAMES];   // global input beat number of each frame's first beat
int total_beats;
longint accept_cycle [];       // cycle each input beat was accepted

string vec_dir, trace_path;
int unsigned seed = 1;

function automatic int frame_len(input int f);
    return int'(desc_mem[f][31:16]);
endfunction
function automatic int frame_off(input int f);
    return int'(desc_mem[f][63:32]);
endfunction

task automatic load_vectors();
    if (!$value$plusargs("vectors=%s", vec_dir)) begin
        $fatal(1, "pf_filter_tb: no +vectors=DIR given");
    end
    $readmemh({vec_dir, "/meta.hex"}, meta_mem, 0, 5);
    n_frames = int'(meta_mem[0]);
    n_regs   = int'(meta_mem[1]);
    n_expect = int'(meta_mem[2]);
    n_checks = int'(meta_mem[3]);
    n_bytes  = int'(meta_mem[4]);
    gap_free     = meta_mem[5][0];
    random_ready = meta_mem[5][1];
    if (n_frames > MAX_FRAMES || n_expect > MAX_FRAMES || n_regs > MAX_REGS
        || n_checks > MAX_CHECKS || n_bytes > MAX_FILE_BYTES) begin
        $fatal(1, "pf_filter_tb: vector set %s too large for the tb buffers (meta %0d %0d %0d %0d %0d)",
               vec_dir, n_frames, n_regs, n_expect, n_checks, n_bytes);
    end
    if (n_regs > 0)   $readmemh({vec_dir, "/regs.hex"}, regs_mem, 0, n_regs - 1);
    if (n_bytes > 0)  $readmemh({vec_dir, "/frames.hex"}, frames_mem, 0, n_bytes - 1);
    if (n_frames > 0) $readmemh({vec_dir, "/desc.hex"}, desc_mem, 0, n_frames - 1);
    if (n_expect > 0) $readmemh({vec_dir, "/expect.hex"}, expect_mem, 0, n_expect - 1);
    if (n_checks > 0) $readmemh({vec_dir, "/counters.hex"}, counters_mem, 0, n_checks - 1);
    total_beats = 0;
    for (int f = 0; f < n_frames; f++) begin
        if (frame_len(f) < 1 || frame_off(f) + frame_len(f) > n_bytes) begin
            $fatal(1, "pf_filter_tb: frame %0d: bad descriptor %h", f, desc_mem[f]);
        end
        first_beat[f] = total_beats;
        total_beats += (frame_len(f) + BEAT_BYTES - 1) / BEAT_BYTES;
    end
    for (int e = 0; e < n_expect; e++) begin
        if (int'(expect_mem[e]) >= n_frames) begin
            $fatal(1, "pf_filter_tb: expect line %0d names frame %0d of %0d", e, expect_mem[e], n_frames);
        end
    end
    accept_cycle = new[total_beats + 1];
    $display("pf_filter_tb: %s: %0d frames (%0d beats), %0d register writes, %0d expected out, %0d counter checks, flags %0h, LATENCY %0d",
             vec_dir, n_frames, total_beats, n_regs, n_expect, n_checks, meta_mem[5], LATENCY);
endtask

// ---------------------------------------------------------------------------
// AXI4-Lite master: inputs change at negedge, handshakes are judged just
// after, so the posedge in between is where they happen
// ---------------------------------------------------------------------------
localparam int AXIL_TIMEOUT = 1000;

task automatic axil_write(input logic [31:0] addr, input logic [31:0] data, output logic [1:0] resp);
    bit aw_done = 0, w_done = 0, aw_hs, w_hs, b_hs = 0;
    int t = 0;
    @(negedge clk);
    s_axil_awaddr  = addr[ADDR_W-1:0];
    s_axil_awvalid = 1'b1;
    s_axil_wdata   = data;
    s_axil_wstrb   = 4'hF;
    s_axil_wvalid  = 1'b1;
    s_axil_bready  = 1'b1;
    while (!(aw_done && w_done)) begin
        #1;
        aw_hs = s_axil_awvalid && s_axil_awready;
        w_hs  = s_axil_wvalid && s_axil_wready;
        @(negedge clk);
        if (aw_hs) begin s_axil_awvalid = 1'b0; aw_done = 1; end
        if (w_hs)  begin s_axil_wvalid  = 1'b0; w_done  = 1; end
        if (++t > AXIL_TIMEOUT) $fatal(1, "pf_filter_tb: AXI4-Lite write to %h: no AWREADY/WREADY", addr);
    end
    while (!b_hs) begin
        #1;
        if (s_axil_bvalid) begin b_hs = 1; resp = s_axil_bresp; end
        @(negedge clk);
        if (++t > AXIL_TIMEOUT) $fatal(1, "pf_filter_tb: AXI4-Lite write to %h: no BVALID", addr);
    end
    s_axil_bready = 1'b0;
endtask

task automatic axil_read(input logic [31:0] addr, output logic [31:0] data, output logic [1:0] resp);
    bit ar_hs = 0, r_hs = 0;
    int t = 0;
    @(negedge clk);
    s_axil_araddr  = addr[ADDR_W-1:0];
    s_axil_arvalid = 1'b1;
    s_axil_rready  = 1'b1;
    while (!ar_hs) begin
        #1;
        ar_hs = s_axil_arvalid && s_axil_arready;
        @(negedge clk);
        if (++t > AXIL_TIMEOUT) $fatal(1, "pf_filter_tb: AXI4-Lite read of %h: no ARREADY", addr);
    end
    s_axil_arvalid = 1'b0;
    while (!r_hs) begin
        #1;
        if (s_axil_rvalid) begin r_hs = 1; data = s_axil_rdata; resp = s_axil_rresp; end
        @(negedge clk);
        if (++t > AXIL_TIMEOUT) $fatal(1, "pf_filter_tb: AXI4-Lite read of %h: no RVALID", addr);
    end
    s_axil_rready = 1'b0;
endtask

task automatic read_ok(input logic [31:0] addr, output logic [31:0] data);
    logic [1:0] resp;
    axil_read(addr, data, resp);
    if (resp != 2'b00) $fatal(1, "pf_filter_tb: read of %h: expected OKAY, got RRESP %0d", addr, resp);
endtask

// ---------------------------------------------------------------------------
// Stream driver (synchronous, like RTL, so there are no races with the DUT)
// ---------------------------------------------------------------------------
bit traffic_go = 0;
bit drv_done = 0;
int drv_frame = 0;
int drv_pos = 0;      // byte position of the next beat in the current frame
int drv_idle = 0;

always @(posedge clk) begin
    if (traffic_go && !drv_done && (!s_axis_tvalid || s_axis_tready)) begin
        if (drv_idle > 0) begin
            s_axis_tvalid <= 1'b0;
            drv_idle--;
        end else if (drv_frame < n_frames) begin
            int len = frame_len(drv_frame);
            int off = frame_off(drv_frame);
            logic [DATA_WIDTH-1:0]   data;
            logic [DATA_WIDTH/8-1:0] keep;
            bit last;
            for (int i = 0; i < BEAT_BYTES; i++) begin
                keep[i] = (drv_pos + i) < len;
                // Bytes past the end carry junk: nothing may look at them
                data[8*i +: 8] = keep[i] ? frames_mem[off + drv_pos + i] : 8'hEE;
            end
            last = drv_pos + BEAT_BYTES >= len;
            s_axis_tdata  <= data;
            s_axis_tkeep  <= keep;
            s_axis_tlast  <= last;
            s_axis_tuser  <= last && desc_mem[drv_frame][0];
            s_axis_tvalid <= 1'b1;
            time_ns       <= desc_mem[drv_frame][127:64];
            if (last) begin
                drv_idle = int'(desc_mem[drv_frame][15:8]);
                drv_pos = 0;
                drv_frame++;
            end else begin
                drv_pos += BEAT_BYTES;
            end
        end else begin
            s_axis_tvalid <= 1'b0;
            drv_done = 1;
        end
    end
end

// Output back-pressure: xorshift32 from +seed, ready about 3 cycles in 4
logic [31:0] rng = 32'h1;
always @(posedge clk) begin
    if (traffic_go && random_ready) begin
        logic [31:0] x;
        x = rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        rng <= x;
        m_axis_tready <= x[1:0] != 2'b00;
    end else begin
        m_axis_tready <= 1'b1;
    end
end

// ---------------------------------------------------------------------------
// Monitor and checker
// ---------------------------------------------------------------------------
longint cycle = 0;
longint last_progress = 0;
int in_beats = 0;
int in_stalls = 0;    // cycles with s_axis_tvalid high and s_axis_tready low
int out_frames = 0;
int out_pos = 0;

always @(posedge clk) begin
    if (traffic_go) begin
        if (gap_free && s_axis_tvalid && !s_axis_tready) begin
            $fatal(1, "pf_filter_tb: gap-free set: s_axis_tready dropped at cycle %0d (input beat %0d)", cycle, in_beats);
        end
        if (s_axis_tvalid && !s_axis_tready) in_stalls++;
        if (s_axis_tvalid && s_axis_tready) begin
            if (in_beats >= total_beats) $fatal(1, "pf_filter_tb: more input beats accepted than sent");
            accept_cycle[in_beats] = cycle;
            in_beats++;
            last_progress = cycle;
        end
        if (m_axis_tvalid && m_axis_tready) begin
            int f, len, off, beat;
            bit exp_last;
            last_progress = cycle;
            if (out_frames >= n_expect) begin
                $fatal(1, "pf_filter_tb: extra output frame: %0d frames expected, got a beat of frame %0d (cycle %0d)",
                       n_expect, out_frames, cycle);
            end
            f   = int'(expect_mem[out_frames]);
            len = frame_len(f);
            off = frame_off(f);
            for (int i = 0; i < BEAT_BYTES; i++) begin
                if (m_axis_tkeep[i] != ((out_pos + i) < len)) begin
                    $fatal(1, "pf_filter_tb: output frame %0d (input frame %0d, len %0d) byte %0d: tkeep %b, expected %b",
                           out_frames, f, len, out_pos + i, m_axis_tkeep[i], (out_pos + i) < len);
                end
                if (m_axis_tkeep[i] && m_axis_tdata[8*i +: 8] != frames_mem[off + out_pos + i]) begin
                    $fatal(1, "pf_filter_tb: output frame %0d (input frame %0d) byte %0d: got %02h, expected %02h",
                           out_frames, f, out_pos + i, m_axis_tdata[8*i +: 8], frames_mem[off + out_pos + i]);
                end
            end
            exp_last = out_pos + BEAT_BYTES >= len;
            if (m_axis_tlast != exp_last) begin
                $fatal(1, "pf_filter_tb: output frame %0d (input frame %0d, len %0d) at byte %0d: tlast %b, expected %b",
                       out_frames, f, len, out_pos, m_axis_tlast, exp_last);
            end
            if (m_axis_tuser != (exp_last && desc_mem[f][0])) begin
                $fatal(1, "pf_filter_tb: output frame %0d (input frame %0d) at byte %0d: tuser %b, expected %b",
                       out_frames, f, out_pos, m_axis_tuser, exp_last && desc_mem[f][0]);
            end
            beat = first_beat[f] + out_pos / BEAT_BYTES;
            if (gap_free && cycle - accept_cycle[beat] != longint'(LATENCY)) begin
                $fatal(1, "pf_filter_tb: output frame %0d (input frame %0d) beat %0d: latency %0d cycles, expected %0d",
                       out_frames, f, out_pos / BEAT_BYTES, cycle - accept_cycle[beat], LATENCY);
            end
            if (exp_last) begin
                out_frames++;
                out_pos = 0;
            end else begin
                out_pos += BEAT_BYTES;
            end
        end
        // Watchdog: something must move well within a frame's delay
        if (cycle - last_progress > 4 * LATENCY + 20000) begin
            $fatal(1, "pf_filter_tb: watchdog: no beat in or out for %0d cycles (in %0d/%0d beats, out %0d/%0d frames)",
                   cycle - last_progress, in_beats, total_beats, out_frames, n_expect);
        end
    end else begin
        last_progress = cycle;
    end
    cycle++;
end

// ---------------------------------------------------------------------------
// Sequence
// ---------------------------------------------------------------------------
initial begin
    logic [31:0] value, hi;
    logic [1:0]  resp;
    logic [63:0] got;

    if ($value$plusargs("trace=%s", trace_path)) begin
        $dumpfile(trace_path);
        $dumpvars(0, pf_filter_tb);
    end
    void'($value$plusargs("seed=%d", seed));
    rng = (seed == 0) ? 32'h1 : seed;

    load_vectors();
    repeat (10) @(posedge clk);
    @(negedge clk);
    rst = 1'b0;
    repeat (5) @(posedge clk);

    read_ok(32'h0, value);
    if (value != 32'h50464C54) $fatal(1, "pf_filter_tb: ID: expected 50464c54, got %h", value);
    read_ok(32'h8, value);
    if (value != {16'(NUM_RULES), 16'(DATA_WIDTH)}) begin
        $fatal(1, "pf_filter_tb: CONFIG: expected %h, got %h", {16'(NUM_RULES), 16'(DATA_WIDTH)}, value);
    end
    read_ok(32'hC, value);
    if (value != {16'(LATENCY), 16'(MAX_FRAME_BYTES)}) begin
        $fatal(1, "pf_filter_tb: GEOMETRY: expected %h, got %h", {16'(LATENCY), 16'(MAX_FRAME_BYTES)}, value);
    end

    for (int r = 0; r < n_regs; r++) begin
        axil_write(regs_mem[r][63:32], regs_mem[r][31:0], resp);
        if (resp != 2'b00) begin
            $fatal(1, "pf_filter_tb: register write %0d (%h <= %h): expected OKAY, got BRESP %0d",
                   r, regs_mem[r][63:32], regs_mem[r][31:0], resp);
        end
    end

    @(posedge clk);
    traffic_go = 1;
    while (!(drv_done && in_beats == total_beats && out_frames == n_expect)) begin
        @(posedge clk);
    end
    // Anything still inside would come out within LATENCY cycles (tready
    // may be low a quarter of the time): wait for extras
    repeat (4 * LATENCY + 100) @(posedge clk);
    if (out_frames != n_expect || out_pos != 0) begin
        $fatal(1, "pf_filter_tb: %0d frames out (+%0d bytes), expected %0d", out_frames, out_pos, n_expect);
    end
    traffic_go = 0;

    for (int c = 0; c < n_checks; c++) begin
        read_ok(counters_mem[c][95:64], value);
        read_ok(counters_mem[c][95:64] + 32'd4, hi);
        got = {hi, value};
        if (got != counters_mem[c][63:0]) begin
            $fatal(1, "pf_filter_tb: counter at %h: expected %0d, got %0d", counters_mem[c][95:64],
                   counters_mem[c][63:0], got);
        end
    end

    $display("PASS pf_filter_tb DATA_WIDTH=%0d: %0d frames in, %0d out, %0d counters checked, %0d cycles, %0d input stall cycles",
             DATA_WIDTH, n_frames, n_expect, n_checks, cycle, in_stalls);
    $finish;
end

endmodule
