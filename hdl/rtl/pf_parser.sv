// Header parser of the packet filter (hdl/SPEC.md §2), purely combinational.
//
// Takes the first HDR_BYTES bytes of a frame with its clamped length and MAC
// error flag, and yields the L2/L3/L4 fields the rule table matches on. Every
// check of SPEC §2 is computed in parallel; a frame is malformed when any check
// that applies to it fails (the RTL does not report which one). Every output
// field is 0 for a malformed frame.
//
// Offsets only depend on the VLAN tag count (0..2) and the IPv4 header length,
// so the bytes are picked through small fixed muxes instead of arbitrary
// byte shifts: the IP header window is a 3-way mux on the tag count, the L4
// window an 11-way mux on the IP header length in words.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module pf_parser #(
    // Longest frame that is parsed; longer ones (len = MAX + 1) are malformed
    parameter int MAX_FRAME_BYTES = 9216,
    // Captured header bytes; SPEC §2 reads up to byte 95, so at least 96
    parameter int HDR_BYTES       = 96
) (
    input  wire logic [HDR_BYTES*8-1:0] hdr,
    input  wire logic [15:0]            len,
    input  wire logic                   err,

    output wire logic                   p_malformed,
    output wire logic                   p_is_ipv4,
    output wire logic                   p_is_ipv6,
    output wire logic [1:0]             p_vlan_count,
    output wire logic [11:0]            p_outer_vid,
    output wire logic                   p_is_frag,
    output wire logic                   p_is_nonfirst,
    output wire logic [7:0]             p_proto,
    output wire logic [127:0]           p_src_addr,
    output wire logic [127:0]           p_dst_addr,
    output wire logic                   p_has_ports,
    output wire logic [15:0]            p_sport,
    output wire logic [15:0]            p_dport,
    output wire logic                   p_is_tcp,
    output wire logic [7:0]             p_tcp_flags,
    output wire logic                   p_has_icmp,
    output wire logic [7:0]             p_icmp_type
);

// Bytes from the start of the IP header that may be read: 60 bytes of IPv4
// header (IHL 15) plus the 14 L4 bytes up to the TCP flags
localparam int IP_WIN  = 74;
// L4 bytes read: ports (0..3), ICMP type (0), TCP data offset (12), flags (13)
localparam int L4_WIN  = 14;

initial begin
    if (HDR_BYTES < 96) begin
        $fatal(1, "%m: HDR_BYTES must be at least 96 (got %0d)", HDR_BYTES);
    end
    if (MAX_FRAME_BYTES < 64 || MAX_FRAME_BYTES > 16383) begin
        $fatal(1, "%m: MAX_FRAME_BYTES must be 64..16383 (got %0d)", MAX_FRAME_BYTES);
    end
end

`ifdef VERILATOR
// Initial blocks are not run by a Verilator lint; repeat the checks as an
// elaboration-time error so a bad configuration cannot even lint
if (!(HDR_BYTES >= 96 && MAX_FRAME_BYTES >= 64 && MAX_FRAME_BYTES <= 16383)) begin : g_bad_parameters
    $fatal(1, "pf_parser: unsupported parameters MAX_FRAME_BYTES=%0d HDR_BYTES=%0d", MAX_FRAME_BYTES, HDR_BYTES);
end
`endif

localparam logic [15:0] TPID_8021Q  = 16'h8100;
localparam logic [15:0] TPID_8021AD = 16'h88A8;
localparam logic [15:0] ET_IPV4     = 16'h0800;
localparam logic [15:0] ET_IPV6     = 16'h86DD;

// Only bytes 0..95 are ever read; the rest of a wider header is ignored
logic [7:0] b [96];
always_comb begin
    for (int i = 0; i < 96; i++) begin
        b[i] = hdr[8*i +: 8];
    end
end

// Lengths are compared in 17 bits so that offset sums cannot wrap
logic [16:0] len17;
assign len17 = {1'b0, len};

// Step 1..3: MAC error, oversize, runt
logic mac_error, oversize, runt;
assign mac_error = err;
assign oversize  = len17 > 17'(MAX_FRAME_BYTES);
assign runt      = len17 < 17'd14;

// Step 4: up to two VLAN tags
logic [15:0] et0, et1, et2, ethertype;
logic        tag0, tag1, vlan_truncated;
logic [1:0]  vlan_count;
assign et0 = {b[12], b[13]};
assign et1 = {b[16], b[17]};
assign et2 = {b[20], b[21]};
assign tag0 = (et0 == TPID_8021Q) || (et0 == TPID_8021AD);
assign tag1 = tag0 && ((et1 == TPID_8021Q) || (et1 == TPID_8021AD));
assign vlan_count = tag1 ? 2'd2 : (tag0 ? 2'd1 : 2'd0);
assign ethertype  = tag1 ? et2 : (tag0 ? et1 : et0);
assign vlan_truncated = (tag0 && len17 < 17'd18) || (tag1 && len17 < 17'd22);

// IP header window: ip[k] = b[l3 + k] with l3 = 14 + 4 * vlan_count
logic [16:0] l3;
logic [7:0]  ip [IP_WIN];
assign l3 = 17'd14 + {13'd0, vlan_count, 2'b00};
always_comb begin
    for (int k = 0; k < IP_WIN; k++) begin
        case (vlan_count)
            2'd1:    ip[k] = b[18 + k];
            2'd2:    ip[k] = b[22 + k];
            default: ip[k] = b[14 + k];
        endcase
    end
end

// Step 5: IPv4
logic        is_ipv4, ipv4_bad;
logic [3:0]  ipv4_ihl;
logic [16:0] ipv4_hl, ipv4_tl;
logic [12:0] frag_offset;
logic        more_frags;
assign is_ipv4     = ethertype == ET_IPV4;
assign ipv4_ihl    = ip[0][3:0];
assign ipv4_hl     = {11'd0, ipv4_ihl, 2'b00};
assign ipv4_tl     = {1'b0, ip[2], ip[3]};
assign more_frags  = ip[6][5];
assign frag_offset = {ip[6][4:0], ip[7]};
assign ipv4_bad = (len17 < l3 + 17'd20)     // ipv4_truncated
               || (ip[0][7:4] != 4'd4)       // ipv4_version
               || (ipv4_ihl < 4'd5)          // ipv4_ihl
               || (ipv4_hl > ipv4_tl)        // ipv4_length
               || (l3 + ipv4_tl > len17);

// Step 6: IPv6 (fixed header only)
logic        is_ipv6, ipv6_bad;
logic [16:0] ipv6_pl;
assign is_ipv6  = ethertype == ET_IPV6;
assign ipv6_pl  = {1'b0, ip[4], ip[5]};
assign ipv6_bad = (len17 < l3 + 17'd40)                 // ipv6_truncated
               || (ip[0][7:4] != 4'd6)                   // ipv6_version
               || (l3 + 17'd40 + ipv6_pl > len17);      // ipv6_length

// Step 7: L4, for IPv6 and for IPv4 unless a non-first fragment
logic        nonfirst, l4_present;
logic [7:0]  proto;
logic [16:0] l4_avail;
logic [3:0]  l4_rel_words;     // L4 offset from the IP header in 32-bit words
logic [7:0]  l4 [L4_WIN];
logic        l4_is_tcp, l4_is_udp, l4_is_icmp, l4_bad;
logic [3:0]  tcp_doff;
assign nonfirst   = is_ipv4 && (frag_offset != 13'd0);
assign l4_present = is_ipv6 || (is_ipv4 && !nonfirst);
assign proto      = is_ipv4 ? ip[9] : (is_ipv6 ? ip[6] : 8'd0);
assign l4_avail   = is_ipv4 ? (ipv4_tl - ipv4_hl) : ipv6_pl;
assign l4_rel_words = is_ipv6 ? 4'd10 : ipv4_ihl;
always_comb begin
    for (int k = 0; k < L4_WIN; k++) begin
        // 4 * 15 + 13 = 73 < IP_WIN: always in range
        l4[k] = ip[7'({l4_rel_words, 2'b00}) + 7'(k)];
    end
end
assign l4_is_tcp  = proto == 8'd6;
assign l4_is_udp  = proto == 8'd17;
assign l4_is_icmp = (is_ipv4 && proto == 8'd1) || (is_ipv6 && proto == 8'd58);
assign tcp_doff   = l4[12][7:4];
assign l4_bad = (l4_is_tcp && (l4_avail < 17'd20                       // tcp_truncated
                               || tcp_doff < 4'd5                      // tcp_offset
                               || {11'd0, tcp_doff, 2'b00} > l4_avail))
             || (l4_is_udp && l4_avail < 17'd8)                        // udp_truncated
             || (l4_is_icmp && l4_avail < 17'd4);                      // icmp_truncated

// A check only counts once the frame got that far; any failure is enough
logic malformed;
assign malformed = mac_error || oversize || runt || vlan_truncated
                || (is_ipv4 && ipv4_bad)
                || (is_ipv6 && ipv6_bad)
                || (l4_present && l4_bad);

logic ok;
assign ok = !malformed;

assign p_malformed   = malformed;
assign p_is_ipv4     = ok && is_ipv4;
assign p_is_ipv6     = ok && is_ipv6;
assign p_vlan_count  = ok ? vlan_count : 2'd0;
assign p_outer_vid   = (ok && tag0) ? {b[14][3:0], b[15]} : 12'd0;
assign p_is_frag     = ok && is_ipv4 && (more_frags || frag_offset != 13'd0);
assign p_is_nonfirst = ok && nonfirst;
assign p_proto       = ok ? proto : 8'd0;
assign p_src_addr    = !ok ? 128'd0
                     : is_ipv4 ? {96'd0, ip[12], ip[13], ip[14], ip[15]}
                     : is_ipv6 ? {ip[8], ip[9], ip[10], ip[11], ip[12], ip[13], ip[14], ip[15],
                                  ip[16], ip[17], ip[18], ip[19], ip[20], ip[21], ip[22], ip[23]}
                     : 128'd0;
assign p_dst_addr    = !ok ? 128'd0
                     : is_ipv4 ? {96'd0, ip[16], ip[17], ip[18], ip[19]}
                     : is_ipv6 ? {ip[24], ip[25], ip[26], ip[27], ip[28], ip[29], ip[30], ip[31],
                                  ip[32], ip[33], ip[34], ip[35], ip[36], ip[37], ip[38], ip[39]}
                     : 128'd0;
assign p_has_ports   = ok && l4_present && (l4_is_tcp || l4_is_udp);
assign p_sport       = p_has_ports ? {l4[0], l4[1]} : 16'd0;
assign p_dport       = p_has_ports ? {l4[2], l4[3]} : 16'd0;
assign p_is_tcp      = ok && l4_present && l4_is_tcp;
assign p_tcp_flags   = p_is_tcp ? l4[13] : 8'd0;
assign p_has_icmp    = ok && l4_present && l4_is_icmp;
assign p_icmp_type   = p_has_icmp ? l4[0] : 8'd0;

endmodule

`resetall
