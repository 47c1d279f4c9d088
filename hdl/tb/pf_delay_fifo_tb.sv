// fpgactl-test: widths=64,512
// fpgactl-timeout: 120
//
// Self-checking test of pf_delay_fifo.
//
// Random frames (1..LATENCY-5 beats, random last-beat tkeep, random tuser)
// with a random pass/drop verdict each, given a few cycles after the frame's
// last beat. Every output beat is checked against the recorded input, in
// order, skipping exactly the dropped frames. Three phases:
//   1 gap-free input, m_axis_tready high: s_axis_tready must stay high and
//     every beat must come out exactly LATENCY cycles after it went in;
//   2 random input gaps and random m_axis_tready: the FIFO must fill
//     (s_axis_tready seen low) without losing or duplicating anything;
//   3 as 2, with verdicts up to 3*LATENCY cycles late: frames wait for them.

`timescale 1ns / 1ps

module pf_delay_fifo_tb #(
    // AXI4-Stream data width under test
    parameter int DATA_WIDTH = 64
);

localparam int BEAT_BYTES  = DATA_WIDTH / 8;
localparam int LATENCY     = 24;
localparam int DEPTH       = 32;
localparam int MAX_BEATS   = LATENCY - 5;
localparam int FRAMES      = 400;      // per phase
localparam int MAX_REC     = 3 * FRAMES * MAX_BEATS + 16;

logic clk = 1'b0;
logic rst = 1'b1;
always #5 clk = ~clk;

logic [DATA_WIDTH-1:0]   s_axis_tdata = '0;
logic [BEAT_BYTES-1:0]   s_axis_tkeep = '0;
logic                    s_axis_tvalid = 1'b0;
logic                    s_axis_tready;
logic                    s_axis_tlast = 1'b0;
logic                    s_axis_tuser = 1'b0;
logic [DATA_WIDTH-1:0]   m_axis_tdata;
logic [BEAT_BYTES-1:0]   m_axis_tkeep;
logic                    m_axis_tvalid;
logic                    m_axis_tready = 1'b1;
logic                    m_axis_tlast;
logic                    m_axis_tuser;
logic                    v_valid = 1'b0;
logic                    v_pass = 1'b0;

pf_delay_fifo #(
    .DATA_WIDTH (DATA_WIDTH),
    .LATENCY    (LATENCY),
    .DEPTH      (DEPTH)
) dut (
    .clk           (clk),
    .rst           (rst),
    .s_axis_tdata  (s_axis_tdata),
    .s_axis_tkeep  (s_axis_tkeep),
    .s_axis_tvalid (s_axis_tvalid),
    .s_axis_tready (s_axis_tready),
    .s_axis_tlast  (s_axis_tlast),
    .s_axis_tuser  (s_axis_tuser),
    .m_axis_tdata  (m_axis_tdata),
    .m_axis_tkeep  (m_axis_tkeep),
    .m_axis_tvalid (m_axis_tvalid),
    .m_axis_tready (m_axis_tready),
    .m_axis_tlast  (m_axis_tlast),
    .m_axis_tuser  (m_axis_tuser),
    .v_valid       (v_valid),
    .v_pass        (v_pass)
);

// Reproducible random numbers (xorshift32 seeded by +seed)
logic [31:0] rng_state = 32'h1234_5678;
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

// Record of every accepted beat
logic [DATA_WIDTH-1:0] rec_data [MAX_REC];
logic [BEAT_BYTES-1:0] rec_keep [MAX_REC];
bit                    rec_last [MAX_REC];
bit                    rec_user [MAX_REC];
bit                    rec_pass [MAX_REC];
longint                rec_cycle [MAX_REC];
int in_beats = 0;
int exp_beat = 0;   // next recorded beat that may come out

// Pending verdicts: due cycle and value, in frame order
longint v_due [$];
bit     v_val [$];
longint last_due = 0;

// Test control (set by the sequence, read by the clocked process)
int  phase = 0;
int  frames_to_send = 0;
bit  gaps = 0;
bit  random_ready = 0;
int  verdict_delay_max = 2;
bit  ready_seen_low = 0;

// Driver state
int  beats_left = 0;
bit  cur_pass = 0;
bit  drv_pass = 0;     // pass flag of the beat on s_axis
longint cycle = 0;
longint last_progress = 0;

always @(posedge clk) begin
    if (!rst) begin
        // 1. Input handshake of the cycle that ends now
        if (s_axis_tvalid && !s_axis_tready) begin
            ready_seen_low = 1;
            if (!gaps) $fatal(1, "delay_fifo_tb: phase %0d: s_axis_tready low at cycle %0d with gap-free input", phase, cycle);
        end
        if (s_axis_tvalid && s_axis_tready) begin
            if (in_beats >= MAX_REC) $fatal(1, "delay_fifo_tb: record overflow");
            rec_data[in_beats]  = s_axis_tdata;
            rec_keep[in_beats]  = s_axis_tkeep;
            rec_last[in_beats]  = s_axis_tlast;
            rec_user[in_beats]  = s_axis_tuser;
            rec_pass[in_beats]  = drv_pass;
            rec_cycle[in_beats] = cycle;
            in_beats++;
            last_progress = cycle;
            if (s_axis_tlast) begin
                longint due = cycle + 1 + longint'(rnd_range(0, verdict_delay_max));
                if (due <= last_due) due = last_due + 1;
                last_due = due;
                v_due.push_back(due);
                v_val.push_back(drv_pass);
            end
        end

        // 2. Output handshake
        if (m_axis_tvalid && m_axis_tready) begin
            last_progress = cycle;
            while (exp_beat < in_beats && !rec_pass[exp_beat]) exp_beat++;
            if (exp_beat >= in_beats) begin
                $fatal(1, "delay_fifo_tb: phase %0d: output beat at cycle %0d, but no passed input beat is left", phase, cycle);
            end
            if (m_axis_tdata != rec_data[exp_beat] || m_axis_tkeep != rec_keep[exp_beat]
                || m_axis_tlast != rec_last[exp_beat] || m_axis_tuser != rec_user[exp_beat]) begin
                $fatal(1, "delay_fifo_tb: phase %0d: output beat %0d: got data %h keep %h last %b user %b, expected %h %h %b %b",
                       phase, exp_beat, m_axis_tdata, m_axis_tkeep, m_axis_tlast, m_axis_tuser,
                       rec_data[exp_beat], rec_keep[exp_beat], rec_last[exp_beat], rec_user[exp_beat]);
            end
            if (phase == 1 && cycle - rec_cycle[exp_beat] != longint'(LATENCY)) begin
                $fatal(1, "delay_fifo_tb: phase 1: beat %0d came out after %0d cycles, expected exactly %0d",
                       exp_beat, cycle - rec_cycle[exp_beat], LATENCY);
            end
            exp_beat++;
        end
        if (phase == 1 && !m_axis_tvalid) begin
            // With tready high and exact latency, a passed beat must be out now
            while (exp_beat < in_beats && !rec_pass[exp_beat]) exp_beat++;
            if (exp_beat < in_beats && cycle - rec_cycle[exp_beat] >= longint'(LATENCY)) begin
                $fatal(1, "delay_fifo_tb: phase 1: beat %0d is %0d cycles old and not out", exp_beat,
                       cycle - rec_cycle[exp_beat]);
            end
        end

        // 3. Next input beat
        if (!s_axis_tvalid || s_axis_tready) begin
            if (beats_left == 0 && frames_to_send > 0 && !(gaps && rnd_range(0, 3) == 0)) begin
                beats_left = (rnd_range(0, 1) == 0) ? 1 : rnd_range(1, MAX_BEATS);
                cur_pass = rnd_range(0, 9) < 7;
                frames_to_send--;
            end
            if (beats_left > 0 && !(gaps && rnd_range(0, 4) == 0)) begin
                logic [DATA_WIDTH-1:0] data;
                for (int i = 0; i < DATA_WIDTH / 32; i++) data[32*i +: 32] = rnd();
                s_axis_tdata  <= data;
                s_axis_tlast  <= beats_left == 1;
                s_axis_tkeep  <= (beats_left == 1) ? ({BEAT_BYTES{1'b1}} >> rnd_range(0, BEAT_BYTES - 1))
                                                   : {BEAT_BYTES{1'b1}};
                s_axis_tuser  <= (beats_left == 1) && rnd_range(0, 3) == 0;
                s_axis_tvalid <= 1'b1;
                drv_pass      <= cur_pass;
                beats_left--;
            end else begin
                s_axis_tvalid <= 1'b0;
            end
        end

        // 4. Verdicts
        if (v_due.size() > 0 && v_due[0] == cycle + 1) begin
            v_valid <= 1'b1;
            v_pass  <= v_val[0];
            void'(v_due.pop_front());
            void'(v_val.pop_front());
        end else begin
            v_valid <= 1'b0;
            v_pass  <= 1'b0;
        end

        // 5. Output back-pressure
        m_axis_tready <= random_ready ? rnd_range(0, 1) == 1 : 1'b1;

        if (cycle - last_progress > 20 * LATENCY + 1000) begin
            $fatal(1, "delay_fifo_tb: watchdog: phase %0d stuck at cycle %0d (in %0d beats, out up to %0d)",
                   phase, cycle, in_beats, exp_beat);
        end
    end else begin
        last_progress = cycle;
    end
    cycle++;
end

task automatic run_phase(input int p, input bit with_gaps, input bit rand_ready, input int vdelay);
    @(negedge clk);
    phase = p;
    gaps = with_gaps;
    random_ready = rand_ready;
    verdict_delay_max = vdelay;
    ready_seen_low = 0;
    frames_to_send = FRAMES;
    // Wait until everything is sent, every verdict given and the FIFO drained
    while (frames_to_send > 0 || beats_left > 0 || s_axis_tvalid || v_due.size() > 0) @(negedge clk);
    repeat (4 * LATENCY + 50) @(negedge clk);
    while (exp_beat < in_beats && !rec_pass[exp_beat]) exp_beat++;
    if (exp_beat != in_beats) begin
        $fatal(1, "delay_fifo_tb: phase %0d: %0d of %0d input beats accounted for; the rest never came out",
               p, exp_beat, in_beats);
    end
    if (m_axis_tvalid) $fatal(1, "delay_fifo_tb: phase %0d: m_axis_tvalid high after draining", p);
    $display("delay_fifo_tb: phase %0d done: %0d beats so far, s_axis_tready low seen: %0d", p, in_beats, ready_seen_low);
endtask

string trace_path;
int unsigned seed = 1;

initial begin
    if ($value$plusargs("trace=%s", trace_path)) begin
        $dumpfile(trace_path);
        $dumpvars(0, pf_delay_fifo_tb);
    end
    void'($value$plusargs("seed=%d", seed));
    rng_state = (seed == 0) ? 32'h1 : 32'h9E37_79B9 ^ seed;
    repeat (5) @(posedge clk);
    @(negedge clk);
    rst = 1'b0;

    run_phase(1, 1'b0, 1'b0, 2);
    run_phase(2, 1'b1, 1'b1, 2);
    if (!ready_seen_low) $fatal(1, "delay_fifo_tb: phase 2 never filled the FIFO (s_axis_tready never low)");
    run_phase(3, 1'b1, 1'b1, 3 * LATENCY);
    $display("PASS pf_delay_fifo_tb DATA_WIDTH=%0d: %0d beats in, %0d cycles", DATA_WIDTH, in_beats, cycle);
    $finish;
end

endmodule
