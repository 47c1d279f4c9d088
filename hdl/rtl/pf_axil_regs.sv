// AXI4-Lite register file of the packet filter (hdl/SPEC.md §6).
//
// One outstanding write and one outstanding read. AW and W are captured
// independently, so they may arrive in either order or in the same cycle; the
// write is performed once both are held and the B channel is free. Side
// effects on the rule table and counters are registered pulses, issued on the
// same edge that raises BVALID. A read presents the decoded address to the
// rule table / counters for one cycle and registers the answer into RDATA.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module pf_axil_regs #(
    // Width of the AXI4-Lite byte address (the map needs 0x40000 + 16*NUM_RULES)
    parameter int ADDR_WIDTH = 20,
    // AXI4-Stream data width of the filter, reported in CONFIG[15:0]
    parameter int DATA_WIDTH_PARAM = 64,
    // Number of rules (1..1536, the size of the rule window)
    parameter int NUM_RULES = 64,
    // Largest accepted frame in bytes, reported in GEOMETRY[15:0]
    parameter int MAX_FRAME_BYTES = 1518,
    // Input-to-output delay of the filter in cycles, reported in GEOMETRY[31:16]
    parameter int LATENCY = 0,
    // Width of a rule index, from NUM_RULES
    localparam int RULE_IDX_W = (NUM_RULES > 1) ? $clog2(NUM_RULES) : 1,
    // Width of the counter read index: a rule, or a total 0..4, so at least 3 bits
    localparam int CNT_IDX_W = (RULE_IDX_W > 3) ? RULE_IDX_W : 3
) (
    input  wire logic                  clk,
    input  wire logic                  rst,

    // AXI4-Lite slave
    input  wire logic [ADDR_WIDTH-1:0] s_axil_awaddr,
    input  wire logic [2:0]            s_axil_awprot,
    input  wire logic                  s_axil_awvalid,
    output wire logic                  s_axil_awready,
    input  wire logic [31:0]           s_axil_wdata,
    input  wire logic [3:0]            s_axil_wstrb,
    input  wire logic                  s_axil_wvalid,
    output wire logic                  s_axil_wready,
    output wire logic [1:0]            s_axil_bresp,
    output wire logic                  s_axil_bvalid,
    input  wire logic                  s_axil_bready,
    input  wire logic [ADDR_WIDTH-1:0] s_axil_araddr,
    input  wire logic [2:0]            s_axil_arprot,
    input  wire logic                  s_axil_arvalid,
    output wire logic                  s_axil_arready,
    output wire logic [31:0]           s_axil_rdata,
    output wire logic [1:0]            s_axil_rresp,
    output wire logic                  s_axil_rvalid,
    input  wire logic                  s_axil_rready,

    // Control
    output wire logic                  ctrl_default_drop,
    output wire logic                  ctrl_malformed_pass,
    output wire logic                  swap_req,
    output wire logic                  clear_totals,
    output wire logic                  clear_rules,

    // Shadow rule table
    output wire logic                  tbl_wr_en,
    output wire logic [RULE_IDX_W-1:0] tbl_wr_rule,
    output wire logic [4:0]            tbl_wr_word,
    output wire logic [31:0]           tbl_wr_data,
    output wire logic [RULE_IDX_W-1:0] tbl_rd_rule,
    output wire logic [4:0]            tbl_rd_word,
    input  wire logic [31:0]           tbl_rd_data,

    // Counters
    output wire logic                  cnt_rd_is_rule,
    output wire logic [CNT_IDX_W-1:0]  cnt_rd_index,
    output wire logic                  cnt_rd_bytes,
    input  wire logic [63:0]           cnt_rd_value,
    input  wire logic [15:0]           swap_count
);

localparam logic [1:0] RESP_OKAY   = 2'b00;
localparam logic [1:0] RESP_SLVERR = 2'b10;
localparam logic [1:0] RESP_DECERR = 2'b11;

localparam logic [31:0] ID_VALUE      = 32'h50464C54;  // "PFLT"
localparam logic [31:0] VERSION_VALUE = 32'h00010000;  // 1.0.0

localparam int RULE_BASE  = 32'h10000;
localparam int RULE_END   = 32'h40000;
localparam int COUNT_BASE = 32'h40000;
localparam int NUM_TOTALS = 5;

initial begin
    if (NUM_RULES < 1 || NUM_RULES > 1536) begin
        $fatal(1, "%m: NUM_RULES must be 1..1536 (got %0d): the rule window holds 1536 rules", NUM_RULES);
    end
    if (ADDR_WIDTH < 19 || ADDR_WIDTH > 32 || (64'(COUNT_BASE) + 64'(16 * NUM_RULES)) > (64'd1 << ADDR_WIDTH)) begin
        $fatal(1, "%m: ADDR_WIDTH %0d (max 32) cannot hold the rule counters of %0d rules", ADDR_WIDTH, NUM_RULES);
    end
    if (DATA_WIDTH_PARAM < 8 || DATA_WIDTH_PARAM > 65535 || MAX_FRAME_BYTES < 1 || MAX_FRAME_BYTES > 65535
            || LATENCY < 0 || LATENCY > 65535) begin
        $fatal(1, "%m: DATA_WIDTH_PARAM, MAX_FRAME_BYTES and LATENCY must fit the 16-bit CONFIG/GEOMETRY fields");
    end
end

// Address decode, shared by reads and writes. Byte-lane bits [1:0] are ignored.
localparam logic [3:0] REG_UNMAPPED   = 4'd0;
localparam logic [3:0] REG_ID         = 4'd1;
localparam logic [3:0] REG_VERSION    = 4'd2;
localparam logic [3:0] REG_CONFIG     = 4'd3;
localparam logic [3:0] REG_GEOMETRY   = 4'd4;
localparam logic [3:0] REG_CONTROL    = 4'd5;
localparam logic [3:0] REG_SWAP       = 4'd6;
localparam logic [3:0] REG_CLEAR      = 4'd7;
localparam logic [3:0] REG_TOTAL      = 4'd8;
localparam logic [3:0] REG_RULE_WORD  = 4'd9;
localparam logic [3:0] REG_RULE_COUNT = 4'd10;

function automatic logic [3:0] decode_kind(input logic [ADDR_WIDTH-1:0] addr);
    logic [31:0] a;
    logic [31:0] rule, word;
    a = 32'(addr) & 32'hffff_fffc;
    decode_kind = REG_UNMAPPED;
    if (a < 32'h100) begin
        case (a[7:0])
            8'h00: decode_kind = REG_ID;
            8'h04: decode_kind = REG_VERSION;
            8'h08: decode_kind = REG_CONFIG;
            8'h0C: decode_kind = REG_GEOMETRY;
            8'h10: decode_kind = REG_CONTROL;
            8'h14: decode_kind = REG_SWAP;
            8'h18: decode_kind = REG_CLEAR;
            default: decode_kind = REG_UNMAPPED;
        endcase
    end else if (a >= 32'h100 && a < 32'h100 + 32'(16 * NUM_TOTALS)) begin
        decode_kind = REG_TOTAL;
    end else if (a >= 32'(RULE_BASE) && a < 32'(RULE_END)) begin
        rule = (a - 32'(RULE_BASE)) >> 7;
        word = 32'(a[6:2]);
        if (rule < 32'(NUM_RULES) && word < 32'd25) begin
            decode_kind = REG_RULE_WORD;
        end
    end else if (a >= 32'(COUNT_BASE)) begin
        rule = (a - 32'(COUNT_BASE)) >> 4;
        if (rule < 32'(NUM_RULES)) begin
            decode_kind = REG_RULE_COUNT;
        end
    end
endfunction

// The two helpers below subtract a window base in 32 bits and keep only the
// rule-number bits; the rest of the difference is deliberately dropped.
/* verilator lint_off UNUSEDSIGNAL */
// Rule number in the rule-word window
function automatic logic [RULE_IDX_W-1:0] rule_of_word_addr(input logic [ADDR_WIDTH-1:0] addr);
    logic [31:0] a;
    a = 32'(addr) - 32'(RULE_BASE);
    rule_of_word_addr = a[7 +: RULE_IDX_W];
endfunction

// Rule number in the rule-counter window
function automatic logic [RULE_IDX_W-1:0] rule_of_count_addr(input logic [ADDR_WIDTH-1:0] addr);
    logic [31:0] a;
    a = 32'(addr) - 32'(COUNT_BASE);
    rule_of_count_addr = a[4 +: RULE_IDX_W];
endfunction
/* verilator lint_on UNUSEDSIGNAL */

// ---------------------------------------------------------------- writes

logic                  aw_held_reg = 1'b0;
logic [ADDR_WIDTH-1:0] aw_addr_reg;
logic                  w_held_reg = 1'b0;
logic [31:0]           w_data_reg;
logic [3:0]            w_strb_reg;
logic                  bvalid_reg = 1'b0;
logic [1:0]            bresp_reg;

logic                  default_drop_reg = 1'b0;
logic                  malformed_pass_reg = 1'b0;
logic                  swap_req_reg = 1'b0;
logic                  clear_totals_reg = 1'b0;
logic                  clear_rules_reg = 1'b0;
logic                  tbl_wr_en_reg = 1'b0;
logic [RULE_IDX_W-1:0] tbl_wr_rule_reg;
logic [4:0]            tbl_wr_word_reg;
logic [31:0]           tbl_wr_data_reg;

logic [3:0] wr_kind;
logic      do_write;

assign wr_kind  = decode_kind(aw_addr_reg);
// A new response may be produced in the cycle the previous one is taken
assign do_write = aw_held_reg && w_held_reg && (!bvalid_reg || s_axil_bready);

always_ff @(posedge clk) begin
    swap_req_reg     <= 1'b0;
    clear_totals_reg <= 1'b0;
    clear_rules_reg  <= 1'b0;
    tbl_wr_en_reg    <= 1'b0;

    if (s_axil_awvalid && !aw_held_reg) begin
        aw_held_reg <= 1'b1;
        aw_addr_reg <= s_axil_awaddr;
    end
    if (s_axil_wvalid && !w_held_reg) begin
        w_held_reg <= 1'b1;
        w_data_reg <= s_axil_wdata;
        w_strb_reg <= s_axil_wstrb;
    end

    if (bvalid_reg && s_axil_bready) begin
        bvalid_reg <= 1'b0;
    end

    if (do_write) begin
        aw_held_reg <= 1'b0;
        w_held_reg  <= 1'b0;
        bvalid_reg  <= 1'b1;
        // An unmapped address answers DECERR even with a partial strobe
        if (wr_kind == REG_UNMAPPED) begin
            bresp_reg <= RESP_DECERR;
        end else if (w_strb_reg != 4'hF) begin
            bresp_reg <= RESP_SLVERR;
        end else begin
            bresp_reg <= RESP_OKAY;
            case (wr_kind)
                REG_CONTROL: begin
                    default_drop_reg   <= w_data_reg[0];
                    malformed_pass_reg <= w_data_reg[1];
                end
                REG_SWAP: begin
                    swap_req_reg <= w_data_reg[0];
                end
                REG_CLEAR: begin
                    clear_totals_reg <= w_data_reg[0];
                    clear_rules_reg  <= w_data_reg[1];
                end
                REG_RULE_WORD: begin
                    tbl_wr_en_reg <= 1'b1;
                end
                default: begin
                    // read-only register: the write is ignored
                end
            endcase
        end
    end
    // Data of the table write; only meaningful with tbl_wr_en
    tbl_wr_rule_reg <= rule_of_word_addr(aw_addr_reg);
    tbl_wr_word_reg <= aw_addr_reg[6:2];
    tbl_wr_data_reg <= w_data_reg;

    if (rst) begin
        aw_held_reg        <= 1'b0;
        w_held_reg         <= 1'b0;
        bvalid_reg         <= 1'b0;
        default_drop_reg   <= 1'b0;
        malformed_pass_reg <= 1'b0;
        swap_req_reg       <= 1'b0;
        clear_totals_reg   <= 1'b0;
        clear_rules_reg    <= 1'b0;
        tbl_wr_en_reg      <= 1'b0;
    end
end

assign s_axil_awready      = !aw_held_reg;
assign s_axil_wready       = !w_held_reg;
assign s_axil_bvalid       = bvalid_reg;
assign s_axil_bresp        = bresp_reg;

assign ctrl_default_drop   = default_drop_reg;
assign ctrl_malformed_pass = malformed_pass_reg;
assign swap_req            = swap_req_reg;
assign clear_totals        = clear_totals_reg;
assign clear_rules         = clear_rules_reg;
assign tbl_wr_en           = tbl_wr_en_reg;
assign tbl_wr_rule         = tbl_wr_rule_reg;
assign tbl_wr_word         = tbl_wr_word_reg;
assign tbl_wr_data         = tbl_wr_data_reg;

// ---------------------------------------------------------------- reads

logic                  ar_held_reg = 1'b0;
logic [ADDR_WIDTH-1:0] ar_addr_reg;
logic                  rvalid_reg = 1'b0;
logic [31:0]           rdata_reg;
logic [1:0]            rresp_reg;

// High word of the 64-bit counter whose low word was read last, and the
// 8-byte-aligned address of that counter (a high-word read of any other counter is live)
logic                  hi_latch_valid_reg = 1'b0;
logic [ADDR_WIDTH-4:0] hi_latch_addr_reg;
logic [31:0]           hi_latch_reg;

logic [3:0]      rd_kind;
logic            do_read;
logic [31:0]     rd_data;
logic [1:0]      rd_resp;
logic [2:0]      rd_total;
logic            rd_high;
logic [31:0]     rd_counter_word;
logic            hi_latch_hit;

assign rd_kind  = decode_kind(ar_addr_reg);
assign do_read  = ar_held_reg && (!rvalid_reg || s_axil_rready);
assign rd_total = ar_addr_reg[6:4];   // 0x100 + 16*k, k < 8
assign rd_high  = ar_addr_reg[2];     // +4 / +C

// Counter and table read ports follow the held read address
assign tbl_rd_rule    = rule_of_word_addr(ar_addr_reg);
assign tbl_rd_word    = ar_addr_reg[6:2];
assign cnt_rd_is_rule = rd_kind == REG_RULE_COUNT;
assign cnt_rd_index   = cnt_rd_is_rule ? CNT_IDX_W'(rule_of_count_addr(ar_addr_reg)) : CNT_IDX_W'(rd_total);
assign cnt_rd_bytes   = ar_addr_reg[3];

assign hi_latch_hit    = hi_latch_valid_reg && hi_latch_addr_reg == ar_addr_reg[ADDR_WIDTH-1:3];
assign rd_counter_word = !rd_high     ? cnt_rd_value[31:0] :
                         hi_latch_hit ? hi_latch_reg : cnt_rd_value[63:32];

always_comb begin
    rd_resp = RESP_OKAY;
    case (rd_kind)
        REG_ID:         rd_data = ID_VALUE;
        REG_VERSION:    rd_data = VERSION_VALUE;
        REG_CONFIG:     rd_data = {16'(NUM_RULES), 16'(DATA_WIDTH_PARAM)};
        REG_GEOMETRY:   rd_data = {16'(LATENCY), 16'(MAX_FRAME_BYTES)};
        REG_CONTROL:    rd_data = {30'd0, malformed_pass_reg, default_drop_reg};
        // The swap completes on the edge after the request, so never pending
        REG_SWAP:       rd_data = {swap_count, 16'd0};
        REG_CLEAR:      rd_data = '0;
        REG_TOTAL:      rd_data = rd_counter_word;
        REG_RULE_COUNT: rd_data = rd_counter_word;
        REG_RULE_WORD:  rd_data = tbl_rd_data;
        default: begin
            rd_data = '0;
            rd_resp = RESP_DECERR;
        end
    endcase
end

always_ff @(posedge clk) begin
    if (s_axil_arvalid && !ar_held_reg) begin
        ar_held_reg <= 1'b1;
        ar_addr_reg <= s_axil_araddr;
    end

    if (rvalid_reg && s_axil_rready) begin
        rvalid_reg <= 1'b0;
    end

    if (do_read) begin
        ar_held_reg <= 1'b0;
        rvalid_reg  <= 1'b1;
        rdata_reg   <= rd_data;
        rresp_reg   <= rd_resp;
        if ((rd_kind == REG_TOTAL || rd_kind == REG_RULE_COUNT) && !rd_high) begin
            hi_latch_valid_reg <= 1'b1;
            hi_latch_addr_reg  <= ar_addr_reg[ADDR_WIDTH-1:3];
            hi_latch_reg       <= cnt_rd_value[63:32];
        end
    end

    if (rst) begin
        ar_held_reg        <= 1'b0;
        rvalid_reg         <= 1'b0;
        hi_latch_valid_reg <= 1'b0;
    end
end

assign s_axil_arready = !ar_held_reg;
assign s_axil_rvalid  = rvalid_reg;
assign s_axil_rdata   = rdata_reg;
assign s_axil_rresp   = rresp_reg;

// Protection bits carry nothing this slave distinguishes
logic unused_prot;
assign unused_prot = ^{s_axil_awprot, s_axil_arprot};

endmodule

`resetall
