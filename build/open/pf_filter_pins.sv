// Pin wrapper of pf_filter for open-flow builds (yosys + nextpnr).
//
// The filter's ports (AXI4-Stream in and out, AXI4-Lite, time) are far wider
// than any package has pins, and ECP5 nextpnr has no out-of-context mode. So
// this wrapper feeds every input from one serial shift chain and folds every
// output into another: nothing is optimised away, every filter path keeps its
// registers, and the design needs five pins. Timing of the filter itself is
// unchanged (the chains are register to register); it is a build harness,
// never a product top.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module pf_filter_pins #(
    // Width of the AXI4-Stream data bus in bits: 64, 128, 256 or 512
    parameter int DATA_WIDTH      = 64,
    // Number of rules in the table (1..1024)
    parameter int NUM_RULES       = 64,
    // Longest frame that is parsed (64..16383)
    parameter int MAX_FRAME_BYTES = 9216
) (
    input  wire logic clk,
    input  wire logic rst,
    input  wire logic scan_in,   // serial input chain
    input  wire logic scan_load, // 1: the chain drives the filter inputs this cycle
    output wire logic scan_out   // serial output chain
);

localparam int KEEP_WIDTH = DATA_WIDTH / 8;
localparam int AW         = 20;
// Every filter input except clk and rst, in one vector
localparam int IN_W  = DATA_WIDTH + KEEP_WIDTH + 3 + 1 + 64      // s_axis, m_axis_tready, time_ns
                     + AW + 3 + 1 + 32 + 4 + 1 + 1              // aw, w, bready
                     + AW + 3 + 1 + 1;                          // ar, rready
// Every filter output, in one vector
localparam int OUT_W = 1 + DATA_WIDTH + KEEP_WIDTH + 3            // s_axis_tready, m_axis
                     + 1 + 1 + 2 + 1 + 1 + 32 + 2 + 1;           // awready wready bresp bvalid arready rdata rresp rvalid

logic [IN_W-1:0]  chain_reg = '0;
logic [IN_W-1:0]  in_reg    = '0;
logic [OUT_W-1:0] out_vec;
logic [OUT_W-1:0] out_reg   = '0;

always_ff @(posedge clk) begin
    chain_reg <= {chain_reg[IN_W-2:0], scan_in};
    if (scan_load) begin
        in_reg <= chain_reg;
    end
    // Capture every output each cycle, shifting the previous capture out
    out_reg <= out_vec ^ {out_reg[OUT_W-2:0], 1'b0};
end

assign scan_out = out_reg[OUT_W-1];

logic [DATA_WIDTH-1:0] s_tdata, m_tdata;
logic [KEEP_WIDTH-1:0] s_tkeep, m_tkeep;
logic s_tvalid, s_tready, s_tlast, s_tuser, m_tvalid, m_tready, m_tlast, m_tuser;
logic [63:0] time_ns;
logic [AW-1:0] awaddr, araddr;
logic [2:0] awprot, arprot;
logic awvalid, awready, wvalid, wready, bvalid, bready, arvalid, arready, rvalid, rready;
logic [31:0] wdata, rdata;
logic [3:0] wstrb;
logic [1:0] bresp, rresp;

assign {s_tdata, s_tkeep, s_tvalid, s_tlast, s_tuser, m_tready, time_ns,
        awaddr, awprot, awvalid, wdata, wstrb, wvalid, bready,
        araddr, arprot, arvalid, rready} = in_reg;
assign out_vec = {s_tready, m_tdata, m_tkeep, m_tvalid, m_tlast, m_tuser,
                  awready, wready, bresp, bvalid, arready, rdata, rresp, rvalid};

pf_filter #(
    .DATA_WIDTH      (DATA_WIDTH),
    .NUM_RULES       (NUM_RULES),
    .MAX_FRAME_BYTES (MAX_FRAME_BYTES),
    .AXIL_ADDR_WIDTH (AW)
) filter_inst (
    .clk            (clk),
    .rst            (rst),
    .s_axis_tdata   (s_tdata),
    .s_axis_tkeep   (s_tkeep),
    .s_axis_tvalid  (s_tvalid),
    .s_axis_tready  (s_tready),
    .s_axis_tlast   (s_tlast),
    .s_axis_tuser   (s_tuser),
    .m_axis_tdata   (m_tdata),
    .m_axis_tkeep   (m_tkeep),
    .m_axis_tvalid  (m_tvalid),
    .m_axis_tready  (m_tready),
    .m_axis_tlast   (m_tlast),
    .m_axis_tuser   (m_tuser),
    .time_ns        (time_ns),
    .s_axil_awaddr  (awaddr),
    .s_axil_awprot  (awprot),
    .s_axil_awvalid (awvalid),
    .s_axil_awready (awready),
    .s_axil_wdata   (wdata),
    .s_axil_wstrb   (wstrb),
    .s_axil_wvalid  (wvalid),
    .s_axil_wready  (wready),
    .s_axil_bresp   (bresp),
    .s_axil_bvalid  (bvalid),
    .s_axil_bready  (bready),
    .s_axil_araddr  (araddr),
    .s_axil_arprot  (arprot),
    .s_axil_arvalid (arvalid),
    .s_axil_arready (arready),
    .s_axil_rdata   (rdata),
    .s_axil_rresp   (rresp),
    .s_axil_rvalid  (rvalid),
    .s_axil_rready  (rready)
);

endmodule

`resetall
