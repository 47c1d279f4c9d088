// A small design for the runner tests: a counter whose top bits drive LEDs
// (place and route takes seconds, so seed fan-outs stay quick).
`default_nettype none
module counter #(
    parameter int WIDTH = 24
) (
    input  wire logic       clk,
    output wire logic [3:0] led
);
logic [WIDTH-1:0] count_reg = '0;
always_ff @(posedge clk) count_reg <= count_reg + 1'b1;
assign led = count_reg[WIDTH-1 -: 4];
endmodule
