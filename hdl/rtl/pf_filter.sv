// L3/L4 packet filter on AXI4-Stream, top level (hdl/SPEC.md).
//
// Every accepted input beat goes into a fixed-delay FIFO. In parallel, the
// frame's header is captured, parsed, matched against the active rule table
// and, for police rules, checked against the rule's token bucket; the
// resulting pass/drop verdict reaches the delay FIFO VERDICT_LATENCY cycles
// after the frame's deciding beat, which is always before the frame's first
// beat is LATENCY cycles old. Passed frames leave unchanged, dropped frames
// vanish whole. Rules, control and counters are reached over AXI4-Lite.
//
// Verdict pipeline, counted from the deciding beat's cycle d:
//   d+1  capture descriptor (registered); parser is combinational on it
//   d+2  parsed fields registered; rule table lookup
//   d+3  lookup result; policer
//   d+4  policer result; verdict formed, written to the delay FIFO and counters
//   d+5  verdict visible to the delay FIFO       -> VERDICT_LATENCY = 5

`resetall
`timescale 1ns / 1ps
`default_nettype none

module pf_filter #(
    // Width of the AXI4-Stream data bus in bits: 64, 128, 256 or 512
    parameter int DATA_WIDTH      = 64,
    // Number of rules in the table (1..1024)
    parameter int NUM_RULES       = 64,
    // Longest frame that is parsed (64..16383); longer frames are malformed
    parameter int MAX_FRAME_BYTES = 9216,
    // Width of the AXI4-Lite byte address (19..32; the map ends below 0x44000)
    parameter int AXIL_ADDR_WIDTH = 20
) (
    input  wire logic                       clk,
    input  wire logic                       rst,

    // Input frames
    input  wire logic [DATA_WIDTH-1:0]      s_axis_tdata,
    input  wire logic [DATA_WIDTH/8-1:0]    s_axis_tkeep,
    input  wire logic                       s_axis_tvalid,
    output wire logic                       s_axis_tready,
    input  wire logic                       s_axis_tlast,
    input  wire logic                       s_axis_tuser,

    // Output frames (passed frames only, delayed by LATENCY cycles)
    output wire logic [DATA_WIDTH-1:0]      m_axis_tdata,
    output wire logic [DATA_WIDTH/8-1:0]    m_axis_tkeep,
    output wire logic                       m_axis_tvalid,
    input  wire logic                       m_axis_tready,
    output wire logic                       m_axis_tlast,
    output wire logic                       m_axis_tuser,

    // Time in nanoseconds, sampled on each frame's first beat for the policer
    input  wire logic [63:0]                time_ns,

    // AXI4-Lite control interface (SPEC §6)
    input  wire logic [AXIL_ADDR_WIDTH-1:0] s_axil_awaddr,
    input  wire logic [2:0]                 s_axil_awprot,
    input  wire logic                       s_axil_awvalid,
    output wire logic                       s_axil_awready,
    input  wire logic [31:0]                s_axil_wdata,
    input  wire logic [3:0]                 s_axil_wstrb,
    input  wire logic                       s_axil_wvalid,
    output wire logic                       s_axil_wready,
    output wire logic [1:0]                 s_axil_bresp,
    output wire logic                       s_axil_bvalid,
    input  wire logic                       s_axil_bready,
    input  wire logic [AXIL_ADDR_WIDTH-1:0] s_axil_araddr,
    input  wire logic [2:0]                 s_axil_arprot,
    input  wire logic                       s_axil_arvalid,
    output wire logic                       s_axil_arready,
    output wire logic [31:0]                s_axil_rdata,
    output wire logic [1:0]                 s_axil_rresp,
    output wire logic                       s_axil_rvalid,
    input  wire logic                       s_axil_rready
);

localparam int BEAT_BYTES      = DATA_WIDTH / 8;
localparam int HDR_BYTES       = 96;
localparam int RULE_IDX_W      = (NUM_RULES > 1) ? $clog2(NUM_RULES) : 1;
// Counter read index: a rule, or a total 0..4 (pf_counters / pf_axil_regs)
localparam int CNT_IDX_W       = (RULE_IDX_W > 3) ? RULE_IDX_W : 3;
// Beats of the longest parsed frame
localparam int MAX_BEATS       = (MAX_FRAME_BYTES + BEAT_BYTES - 1) / BEAT_BYTES;
// Cycles from a frame's deciding beat to its verdict being usable by the FIFO
localparam int VERDICT_LATENCY = 5;
// Fixed input-to-output delay of every beat (SPEC §1)
localparam int LATENCY         = MAX_BEATS + VERDICT_LATENCY;
// Smallest power of two above LATENCY + 4: room for a gap-free stream in flight
localparam int FIFO_DEPTH      = 2 ** $clog2(LATENCY + 5);

localparam logic [1:0] ACTION_PASS   = 2'd0;
localparam logic [1:0] ACTION_POLICE = 2'd2;
localparam logic [1:0] OUTCOME_PASSED  = 2'd0;
localparam logic [1:0] OUTCOME_DROPPED = 2'd1;
localparam logic [1:0] OUTCOME_POLICED = 2'd2;

initial begin
    if (DATA_WIDTH != 64 && DATA_WIDTH != 128 && DATA_WIDTH != 256 && DATA_WIDTH != 512) begin
        $fatal(1, "%m: DATA_WIDTH must be 64, 128, 256 or 512 (got %0d)", DATA_WIDTH);
    end
    if (NUM_RULES < 1 || NUM_RULES > 1024) begin
        $fatal(1, "%m: NUM_RULES must be 1..1024 (got %0d)", NUM_RULES);
    end
    if (MAX_FRAME_BYTES < 64 || MAX_FRAME_BYTES > 16383) begin
        $fatal(1, "%m: MAX_FRAME_BYTES must be 64..16383 (got %0d)", MAX_FRAME_BYTES);
    end
    if (AXIL_ADDR_WIDTH < 19 || AXIL_ADDR_WIDTH > 32) begin
        $fatal(1, "%m: AXIL_ADDR_WIDTH must be 19..32 (got %0d)", AXIL_ADDR_WIDTH);
    end
end

`ifdef VERILATOR
// Initial blocks are not run by a Verilator lint; repeat the checks as an
// elaboration-time error so a bad configuration cannot even lint
if (!((DATA_WIDTH == 64 || DATA_WIDTH == 128 || DATA_WIDTH == 256 || DATA_WIDTH == 512)
      && NUM_RULES >= 1 && NUM_RULES <= 1024
      && MAX_FRAME_BYTES >= 64 && MAX_FRAME_BYTES <= 16383
      && AXIL_ADDR_WIDTH >= 19 && AXIL_ADDR_WIDTH <= 32)) begin : g_bad_parameters
    $fatal(1, "pf_filter: unsupported parameters DATA_WIDTH=%0d NUM_RULES=%0d MAX_FRAME_BYTES=%0d AXIL_ADDR_WIDTH=%0d", DATA_WIDTH, NUM_RULES, MAX_FRAME_BYTES, AXIL_ADDR_WIDTH);
end
`endif

// ---------------------------------------------------------------------------
// Delay FIFO: owns the input handshake
// ---------------------------------------------------------------------------
logic verdict_valid, verdict_pass;

pf_delay_fifo #(
    .DATA_WIDTH (DATA_WIDTH),
    .LATENCY    (LATENCY),
    .DEPTH      (FIFO_DEPTH)
) delay_fifo_inst (
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
    .v_valid       (verdict_valid),
    .v_pass        (verdict_pass)
);

// ---------------------------------------------------------------------------
// Capture (cycle d -> d+1) and parser (combinational in d+1)
// ---------------------------------------------------------------------------
logic                   desc_valid;
logic [HDR_BYTES*8-1:0] desc_hdr;
logic [15:0]            desc_len;
logic                   desc_err;
logic [63:0]            desc_ts;

pf_frame_capture #(
    .DATA_WIDTH      (DATA_WIDTH),
    .MAX_FRAME_BYTES (MAX_FRAME_BYTES),
    .HDR_BYTES       (HDR_BYTES)
) frame_capture_inst (
    .clk          (clk),
    .rst          (rst),
    .s_axis_tdata (s_axis_tdata),
    .s_axis_tkeep (s_axis_tkeep),
    .s_axis_tlast (s_axis_tlast),
    .s_axis_tuser (s_axis_tuser),
    .beat         (s_axis_tvalid && s_axis_tready),
    .time_ns      (time_ns),
    .desc_valid   (desc_valid),
    .desc_hdr     (desc_hdr),
    .desc_len     (desc_len),
    .desc_err     (desc_err),
    .desc_ts      (desc_ts)
);

logic         prs_malformed, prs_is_ipv4, prs_is_ipv6, prs_is_frag, prs_is_nonfirst;
logic [1:0]   prs_vlan_count;
logic [11:0]  prs_outer_vid;
logic [7:0]   prs_proto, prs_tcp_flags, prs_icmp_type;
logic [127:0] prs_src_addr, prs_dst_addr;
logic         prs_has_ports, prs_is_tcp, prs_has_icmp;
logic [15:0]  prs_sport, prs_dport;

pf_parser #(
    .MAX_FRAME_BYTES (MAX_FRAME_BYTES),
    .HDR_BYTES       (HDR_BYTES)
) parser_inst (
    .hdr           (desc_hdr),
    .len           (desc_len),
    .err           (desc_err),
    .p_malformed   (prs_malformed),
    .p_is_ipv4     (prs_is_ipv4),
    .p_is_ipv6     (prs_is_ipv6),
    .p_vlan_count  (prs_vlan_count),
    .p_outer_vid   (prs_outer_vid),
    .p_is_frag     (prs_is_frag),
    .p_is_nonfirst (prs_is_nonfirst),
    .p_proto       (prs_proto),
    .p_src_addr    (prs_src_addr),
    .p_dst_addr    (prs_dst_addr),
    .p_has_ports   (prs_has_ports),
    .p_sport       (prs_sport),
    .p_dport       (prs_dport),
    .p_is_tcp      (prs_is_tcp),
    .p_tcp_flags   (prs_tcp_flags),
    .p_has_icmp    (prs_has_icmp),
    .p_icmp_type   (prs_icmp_type)
);

// ---------------------------------------------------------------------------
// Parsed-field register (d+2): feeds the rule table lookup
// ---------------------------------------------------------------------------
logic         p_valid_reg = 1'b0;
logic         p_malformed_reg, p_is_ipv4_reg, p_is_ipv6_reg, p_is_frag_reg, p_is_nonfirst_reg;
logic [1:0]   p_vlan_count_reg;
logic [11:0]  p_outer_vid_reg;
logic [7:0]   p_proto_reg, p_tcp_flags_reg, p_icmp_type_reg;
logic [127:0] p_src_addr_reg, p_dst_addr_reg;
logic         p_has_ports_reg, p_is_tcp_reg, p_has_icmp_reg;
logic [15:0]  p_sport_reg, p_dport_reg, p_len_reg;
logic [63:0]  p_ts_reg;

always_ff @(posedge clk) begin
    p_valid_reg       <= desc_valid;
    p_malformed_reg   <= prs_malformed;
    p_is_ipv4_reg     <= prs_is_ipv4;
    p_is_ipv6_reg     <= prs_is_ipv6;
    p_vlan_count_reg  <= prs_vlan_count;
    p_outer_vid_reg   <= prs_outer_vid;
    p_is_frag_reg     <= prs_is_frag;
    p_is_nonfirst_reg <= prs_is_nonfirst;
    p_proto_reg       <= prs_proto;
    p_src_addr_reg    <= prs_src_addr;
    p_dst_addr_reg    <= prs_dst_addr;
    p_has_ports_reg   <= prs_has_ports;
    p_sport_reg       <= prs_sport;
    p_dport_reg       <= prs_dport;
    p_is_tcp_reg      <= prs_is_tcp;
    p_tcp_flags_reg   <= prs_tcp_flags;
    p_has_icmp_reg    <= prs_has_icmp;
    p_icmp_type_reg   <= prs_icmp_type;
    p_len_reg         <= desc_len;
    p_ts_reg          <= desc_ts;
    if (rst) begin
        p_valid_reg <= 1'b0;
    end
end

// ---------------------------------------------------------------------------
// Control registers
// ---------------------------------------------------------------------------
logic                  ctrl_default_drop, ctrl_malformed_pass;
logic                  swap_req, clear_totals, clear_rules;
logic                  tbl_wr_en;
logic [RULE_IDX_W-1:0] tbl_wr_rule, tbl_rd_rule;
logic [4:0]            tbl_wr_word, tbl_rd_word;
logic [31:0]           tbl_wr_data, tbl_rd_data;
logic                  cnt_rd_is_rule, cnt_rd_bytes;
logic [CNT_IDX_W-1:0]  cnt_rd_index;
logic [63:0]           cnt_rd_value;
logic [15:0]           swap_count;

pf_axil_regs #(
    .ADDR_WIDTH       (AXIL_ADDR_WIDTH),
    .DATA_WIDTH_PARAM (DATA_WIDTH),
    .NUM_RULES        (NUM_RULES),
    .MAX_FRAME_BYTES  (MAX_FRAME_BYTES),
    .LATENCY          (LATENCY)
) axil_regs_inst (
    .clk                 (clk),
    .rst                 (rst),
    .s_axil_awaddr       (s_axil_awaddr),
    .s_axil_awprot       (s_axil_awprot),
    .s_axil_awvalid      (s_axil_awvalid),
    .s_axil_awready      (s_axil_awready),
    .s_axil_wdata        (s_axil_wdata),
    .s_axil_wstrb        (s_axil_wstrb),
    .s_axil_wvalid       (s_axil_wvalid),
    .s_axil_wready       (s_axil_wready),
    .s_axil_bresp        (s_axil_bresp),
    .s_axil_bvalid       (s_axil_bvalid),
    .s_axil_bready       (s_axil_bready),
    .s_axil_araddr       (s_axil_araddr),
    .s_axil_arprot       (s_axil_arprot),
    .s_axil_arvalid      (s_axil_arvalid),
    .s_axil_arready      (s_axil_arready),
    .s_axil_rdata        (s_axil_rdata),
    .s_axil_rresp        (s_axil_rresp),
    .s_axil_rvalid       (s_axil_rvalid),
    .s_axil_rready       (s_axil_rready),
    .ctrl_default_drop   (ctrl_default_drop),
    .ctrl_malformed_pass (ctrl_malformed_pass),
    .swap_req            (swap_req),
    .clear_totals        (clear_totals),
    .clear_rules         (clear_rules),
    .tbl_wr_en           (tbl_wr_en),
    .tbl_wr_rule         (tbl_wr_rule),
    .tbl_wr_word         (tbl_wr_word),
    .tbl_wr_data         (tbl_wr_data),
    .tbl_rd_rule         (tbl_rd_rule),
    .tbl_rd_word         (tbl_rd_word),
    .tbl_rd_data         (tbl_rd_data),
    .cnt_rd_is_rule      (cnt_rd_is_rule),
    .cnt_rd_index        (cnt_rd_index),
    .cnt_rd_bytes        (cnt_rd_bytes),
    .cnt_rd_value        (cnt_rd_value),
    .swap_count          (swap_count)
);

// ---------------------------------------------------------------------------
// Rule table (lookup d+2 -> result d+3). Malformed frames are not looked up.
// ---------------------------------------------------------------------------
logic                  lk_out_valid, lk_out_hit, lk_out_police_bytes;
logic [15:0]           lk_out_epoch;
logic [RULE_IDX_W-1:0] lk_out_idx;
logic [1:0]            lk_out_action;
logic [39:0]           lk_out_rate;
logic [31:0]           lk_out_burst;
// The policer follows the epoch (swap count) each lookup actually used

pf_rule_table #(
    .NUM_RULES (NUM_RULES)
) rule_table_inst (
    .clk                 (clk),
    .rst                 (rst),
    .cfg_wr_en           (tbl_wr_en),
    .cfg_wr_rule         (tbl_wr_rule),
    .cfg_wr_word         (tbl_wr_word),
    .cfg_wr_data         (tbl_wr_data),
    .cfg_rd_rule         (tbl_rd_rule),
    .cfg_rd_word         (tbl_rd_word),
    .cfg_rd_data         (tbl_rd_data),
    .swap_req            (swap_req),
    .swap_count          (swap_count),
    .lk_valid            (p_valid_reg && !p_malformed_reg),
    .p_is_ipv4           (p_is_ipv4_reg),
    .p_is_ipv6           (p_is_ipv6_reg),
    .p_vlan_count        (p_vlan_count_reg),
    .p_outer_vid         (p_outer_vid_reg),
    .p_is_frag           (p_is_frag_reg),
    .p_is_nonfirst       (p_is_nonfirst_reg),
    .p_proto             (p_proto_reg),
    .p_src_addr          (p_src_addr_reg),
    .p_dst_addr          (p_dst_addr_reg),
    .p_has_ports         (p_has_ports_reg),
    .p_sport             (p_sport_reg),
    .p_dport             (p_dport_reg),
    .p_is_tcp            (p_is_tcp_reg),
    .p_tcp_flags         (p_tcp_flags_reg),
    .p_has_icmp          (p_has_icmp_reg),
    .p_icmp_type         (p_icmp_type_reg),
    .lk_frame_len        (p_len_reg),
    .lk_out_valid        (lk_out_valid),
    .lk_out_hit          (lk_out_hit),
    .lk_out_idx          (lk_out_idx),
    .lk_out_action       (lk_out_action),
    .lk_out_police_bytes (lk_out_police_bytes),
    .lk_out_rate         (lk_out_rate),
    .lk_out_burst        (lk_out_burst),
    .lk_out_epoch        (lk_out_epoch)
);

// Frame state alongside the lookup (d+3)
logic        t_valid_reg = 1'b0;
logic        t_malformed_reg;
logic [15:0] t_len_reg;
logic [63:0] t_ts_reg;

always_ff @(posedge clk) begin
    t_valid_reg     <= p_valid_reg;
    t_malformed_reg <= p_malformed_reg;
    t_len_reg       <= p_len_reg;
    t_ts_reg        <= p_ts_reg;
    if (rst) begin
        t_valid_reg <= 1'b0;
    end
end

// Only well-formed frames are looked up (lk_valid above), so a lookup result
// is this frame's hit
logic t_hit;
assign t_hit = lk_out_valid && lk_out_hit;

// ---------------------------------------------------------------------------
// Policer (d+3 -> d+4)
// ---------------------------------------------------------------------------
logic police_out_valid, police_conform;

pf_policer #(
    .NUM_RULES (NUM_RULES)
) policer_inst (
    .clk             (clk),
    .rst             (rst),
    .in_valid        (t_hit && lk_out_action == ACTION_POLICE),
    .in_idx          (lk_out_idx),
    .in_epoch        (lk_out_epoch),
    .in_police_bytes (lk_out_police_bytes),
    .in_rate         (lk_out_rate),
    .in_burst        (lk_out_burst),
    .in_ts           (t_ts_reg),
    .in_len          (t_len_reg),
    .out_valid       (police_out_valid),
    .out_conform     (police_conform)
);

// Frame state alongside the policer (d+4)
logic                  q_valid_reg = 1'b0;
logic                  q_malformed_reg, q_hit_reg;
logic [RULE_IDX_W-1:0] q_idx_reg;
logic [1:0]            q_action_reg;
logic [15:0]           q_len_reg;

always_ff @(posedge clk) begin
    q_valid_reg     <= t_valid_reg;
    q_malformed_reg <= t_malformed_reg;
    q_hit_reg       <= t_hit;
    q_idx_reg       <= lk_out_idx;
    q_action_reg    <= lk_out_action;
    q_len_reg       <= t_len_reg;
    if (rst) begin
        q_valid_reg <= 1'b0;
    end
end

// ---------------------------------------------------------------------------
// Verdict (d+4): malformed action, else default action on a miss, else the
// rule's action; action 3 is not produced by the compiler and drops
// ---------------------------------------------------------------------------
logic [1:0] outcome;
always_comb begin
    if (q_malformed_reg) begin
        outcome = ctrl_malformed_pass ? OUTCOME_PASSED : OUTCOME_DROPPED;
    end else if (!q_hit_reg) begin
        outcome = ctrl_default_drop ? OUTCOME_DROPPED : OUTCOME_PASSED;
    end else if (q_action_reg == ACTION_PASS) begin
        outcome = OUTCOME_PASSED;
    end else if (q_action_reg == ACTION_POLICE) begin
        outcome = (police_out_valid && police_conform) ? OUTCOME_PASSED : OUTCOME_POLICED;
    end else begin
        outcome = OUTCOME_DROPPED;
    end
end

assign verdict_valid = q_valid_reg;
assign verdict_pass  = outcome == OUTCOME_PASSED;

// ---------------------------------------------------------------------------
// Counters (updated with the verdict, d+4)
// ---------------------------------------------------------------------------
pf_counters #(
    .NUM_RULES (NUM_RULES)
) counters_inst (
    .clk          (clk),
    .rst          (rst),
    .in_valid     (q_valid_reg),
    .in_len       (q_len_reg),
    .in_hit       (q_hit_reg),
    .in_idx       (q_idx_reg),
    .in_outcome   (outcome),
    .in_malformed (q_malformed_reg),
    .clear_totals (clear_totals),
    .clear_rules  (clear_rules),
    .rd_is_rule   (cnt_rd_is_rule),
    .rd_index     (cnt_rd_index),
    .rd_bytes     (cnt_rd_bytes),
    .rd_value     (cnt_rd_value)
);

endmodule

`resetall
