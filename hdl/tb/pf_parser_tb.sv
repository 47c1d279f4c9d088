// fpgactl-test: widths=none
// fpgactl-timeout: 60
//
// Self-checking test of pf_parser (hdl/SPEC.md §2).
//
// Hand-built frames for every row of SPEC §2: each malformed reason on both
// sides of its boundary, and well-formed frames of every kind (non-IP, VLAN
// 0/1/2/3 tags, IPv4 with options, fragments, IPv6, TCP/UDP/ICMP/ICMPv6,
// other protocols). Every output is compared with the value written by hand
// for the case; a malformed frame must have every field 0.

`timescale 1ns / 1ps

// Frame bytes are written as sized hex literals (16'h0800) into int task
// arguments on purpose: the widening is exact
/* verilator lint_off WIDTH */

module pf_parser_tb;

localparam int MAX_FRAME_BYTES = 1518;
localparam int HDR_BYTES       = 96;

logic [HDR_BYTES*8-1:0] hdr = '0;
logic [15:0]            len = '0;
logic                   err = 1'b0;

logic         p_malformed, p_is_ipv4, p_is_ipv6, p_is_frag, p_is_nonfirst;
logic [1:0]   p_vlan_count;
logic [11:0]  p_outer_vid;
logic [7:0]   p_proto, p_tcp_flags, p_icmp_type;
logic [127:0] p_src_addr, p_dst_addr;
logic         p_has_ports, p_is_tcp, p_has_icmp;
logic [15:0]  p_sport, p_dport;

pf_parser #(
    .MAX_FRAME_BYTES (MAX_FRAME_BYTES),
    .HDR_BYTES       (HDR_BYTES)
) dut (
    .hdr           (hdr),
    .len           (len),
    .err           (err),
    .p_malformed   (p_malformed),
    .p_is_ipv4     (p_is_ipv4),
    .p_is_ipv6     (p_is_ipv6),
    .p_vlan_count  (p_vlan_count),
    .p_outer_vid   (p_outer_vid),
    .p_is_frag     (p_is_frag),
    .p_is_nonfirst (p_is_nonfirst),
    .p_proto       (p_proto),
    .p_src_addr    (p_src_addr),
    .p_dst_addr    (p_dst_addr),
    .p_has_ports   (p_has_ports),
    .p_sport       (p_sport),
    .p_dport       (p_dport),
    .p_is_tcp      (p_is_tcp),
    .p_tcp_flags   (p_tcp_flags),
    .p_has_icmp    (p_has_icmp),
    .p_icmp_type   (p_icmp_type)
);

// ---------------------------------------------------------------------------
// Frame builder
// ---------------------------------------------------------------------------
logic [7:0] fb [$];

localparam logic [31:0]  SRC4 = 32'hC0A8_0101;   // 192.168.1.1
localparam logic [31:0]  DST4 = 32'h0A00_0002;   // 10.0.0.2
localparam logic [127:0] SRC6 = 128'h2001_0db8_0000_0000_0000_0000_0000_0001;
localparam logic [127:0] DST6 = 128'hfe80_0000_0000_0000_1234_5678_9abc_def0;

task automatic put8(input int v);
    fb.push_back(8'(v));
endtask
task automatic put16(input int v);
    put8(v >> 8);
    put8(v);
endtask
task automatic put32(input logic [31:0] v);
    for (int i = 3; i >= 0; i--) put8(int'(v[8*i +: 8]));
endtask
task automatic put128(input logic [127:0] v);
    for (int i = 15; i >= 0; i--) put8(int'(v[8*i +: 8]));
endtask
task automatic fill(input int n, input int v);
    repeat (n) put8(v);
endtask

// Ethernet header: MACs, then the tags given, then the ethertype
task automatic eth(input int ethertype);
    fb.delete();
    for (int i = 0; i < 12; i++) put8(8'h10 + i);
    put16(ethertype);
endtask
task automatic tag(input int vid_tci, input int next_type);
    put16(vid_tci);
    put16(next_type);
endtask

task automatic ipv4(input int version, input int ihl, input int total_len, input int flags_frag,
                    input int proto);
    put8((version << 4) | ihl);
    put8(0);
    put16(total_len);
    put16(16'h1234);          // identification
    put16(flags_frag);
    put8(64);                 // TTL
    put8(proto);
    put16(0);                 // checksum (not checked)
    put32(SRC4);
    put32(DST4);
    if (ihl > 5) fill(4 * (ihl - 5), 1);   // NOP options
endtask

task automatic ipv6(input int version, input int payload_len, input int next_header);
    put32({4'(version), 28'h0000_000});
    put16(payload_len);
    put8(next_header);
    put8(64);
    put128(SRC6);
    put128(DST6);
endtask

task automatic tcp(input int sport, input int dport, input int doff, input int flags);
    put16(sport);
    put16(dport);
    put32(32'h0000_0100);     // seq
    put32(32'h0000_0000);     // ack
    put8(doff << 4);
    put8(flags);
    put16(16'hFFFF);          // window
    put16(0);                 // checksum
    put16(0);                 // urgent
endtask

task automatic udp(input int sport, input int dport, input int ulen);
    put16(sport);
    put16(dport);
    put16(ulen);
    put16(0);
endtask

task automatic icmp(input int typ);
    put8(typ);
    put8(0);
    put16(0);
endtask

// Present the built frame with the given length (bytes at or past it are 0,
// as pf_frame_capture delivers them) and MAC error flag
task automatic apply(input int frame_len, input bit mac_err);
    hdr = '0;
    for (int i = 0; i < HDR_BYTES && i < fb.size() && i < frame_len; i++) hdr[8*i +: 8] = fb[i];
    len = 16'(frame_len);
    err = mac_err;
    #1;
endtask

int cases = 0;

task automatic expect_malformed(input string name);
    cases++;
    if (p_malformed !== 1'b1) $fatal(1, "parser_tb: %s: expected malformed, got p_malformed=%b", name, p_malformed);
    if ({p_is_ipv4, p_is_ipv6, p_vlan_count, p_outer_vid, p_is_frag, p_is_nonfirst, p_proto, p_src_addr,
         p_dst_addr, p_has_ports, p_sport, p_dport, p_is_tcp, p_tcp_flags, p_has_icmp, p_icmp_type} != '0) begin
        $fatal(1, "parser_tb: %s: malformed frame must have all fields 0", name);
    end
endtask

// Fields of a well-formed frame
task automatic expect_ok(input string name, input bit v4, input bit v6, input int vlans, input int vid,
                         input bit frag, input bit nonfirst, input int proto,
                         input bit ports, input int sport, input int dport,
                         input bit is_tcp, input int flags, input bit has_icmp, input int icmp_type);
    logic [127:0] exp_src, exp_dst;
    cases++;
    exp_src = v4 ? {96'd0, SRC4} : v6 ? SRC6 : 128'd0;
    exp_dst = v4 ? {96'd0, DST4} : v6 ? DST6 : 128'd0;
    if (p_malformed !== 1'b0) $fatal(1, "parser_tb: %s: expected well-formed, got malformed", name);
    if (p_is_ipv4 != v4 || p_is_ipv6 != v6) begin
        $fatal(1, "parser_tb: %s: ipv4/ipv6 %b/%b, expected %b/%b", name, p_is_ipv4, p_is_ipv6, v4, v6);
    end
    if (int'(p_vlan_count) != vlans || int'(p_outer_vid) != vid) begin
        $fatal(1, "parser_tb: %s: vlan_count %0d outer_vid %h, expected %0d %h", name, p_vlan_count, p_outer_vid, vlans, vid);
    end
    if (p_is_frag != frag || p_is_nonfirst != nonfirst) begin
        $fatal(1, "parser_tb: %s: is_frag %b is_nonfirst %b, expected %b %b", name, p_is_frag, p_is_nonfirst, frag, nonfirst);
    end
    if (int'(p_proto) != proto) $fatal(1, "parser_tb: %s: proto %0d, expected %0d", name, p_proto, proto);
    if (p_src_addr != exp_src || p_dst_addr != exp_dst) begin
        $fatal(1, "parser_tb: %s: src %h dst %h, expected %h %h", name, p_src_addr, p_dst_addr, exp_src, exp_dst);
    end
    if (p_has_ports != ports || int'(p_sport) != sport || int'(p_dport) != dport) begin
        $fatal(1, "parser_tb: %s: has_ports %b sport %0d dport %0d, expected %b %0d %0d", name,
               p_has_ports, p_sport, p_dport, ports, sport, dport);
    end
    if (p_is_tcp != is_tcp || int'(p_tcp_flags) != flags) begin
        $fatal(1, "parser_tb: %s: is_tcp %b flags %h, expected %b %h", name, p_is_tcp, p_tcp_flags, is_tcp, flags);
    end
    if (p_has_icmp != has_icmp || int'(p_icmp_type) != icmp_type) begin
        $fatal(1, "parser_tb: %s: has_icmp %b type %0d, expected %b %0d", name, p_has_icmp, p_icmp_type, has_icmp, icmp_type);
    end
endtask

// A plain non-IP frame
task automatic expect_nonip(input string name, input int vlans, input int vid);
    expect_ok(name, 0, 0, vlans, vid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
endtask

// A standard IPv4/UDP frame: 14 + 20 + 8 + 18 payload = 60 bytes
task automatic build_udp4();
    eth(16'h0800);
    ipv4(4, 5, 20 + 8 + 18, 0, 17);
    udp(5353, 53, 8 + 18);
    fill(18, 8'hAB);
endtask

string trace_path;

initial begin
    if ($value$plusargs("trace=%s", trace_path)) begin
        $dumpfile(trace_path);
        $dumpvars(0, pf_parser_tb);
    end

    // ---- steps 1..3: mac_error, oversize, runt --------------------------
    build_udp4();
    apply(60, 0); expect_ok("udp4 baseline", 1, 0, 0, 0, 0, 0, 17, 1, 5353, 53, 0, 0, 0, 0);
    apply(60, 1); expect_malformed("mac_error");
    fill(MAX_FRAME_BYTES, 0);
    apply(MAX_FRAME_BYTES + 1, 0); expect_malformed("oversize (MAX+1)");
    eth(16'h0800); ipv4(4, 5, MAX_FRAME_BYTES - 14, 0, 99); fill(MAX_FRAME_BYTES, 0);
    apply(MAX_FRAME_BYTES, 0); expect_ok("exactly MAX bytes", 1, 0, 0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0);
    eth(16'h1234);
    apply(13, 0); expect_malformed("runt (13)");
    apply(1, 0); expect_malformed("runt (1)");
    apply(14, 0); expect_nonip("non-IP 14 bytes", 0, 0);
    // IPv4 ethertype, 14 bytes: the IPv4 header is missing
    eth(16'h0800);
    apply(14, 0); expect_malformed("ipv4_truncated (no header)");

    // ---- step 4: VLAN tags -----------------------------------------------
    eth(16'h8100); tag(16'hE123, 16'h1234); fill(40, 0);
    apply(17, 0); expect_malformed("vlan_truncated (1 tag, 17 bytes)");
    apply(18, 0); expect_nonip("1 tag (8100), non-IP, 18 bytes", 1, 12'h123);
    eth(16'h88A8); tag(16'h0FFF, 16'h8100); tag(16'h0001, 16'h4444); fill(40, 0);
    apply(21, 0); expect_malformed("vlan_truncated (2 tags, 21 bytes)");
    apply(22, 0); expect_nonip("2 tags (88a8+8100), non-IP", 2, 12'hFFF);
    eth(16'h8100); tag(16'h0005, 16'h88A8); tag(16'h0006, 16'h8100); tag(16'h0007, 16'h0800); fill(60, 0);
    apply(80, 0); expect_nonip("3rd TPID not parsed: non-IP", 2, 12'h005);
    eth(16'h8100); tag(16'h0064, 16'h0800); ipv4(4, 5, 28, 0, 17); udp(1, 2, 8); fill(20, 0);
    apply(18 + 28 + 20, 0); expect_ok("1 tag + udp4", 1, 0, 1, 12'h064, 0, 0, 17, 1, 1, 2, 0, 0, 0, 0);

    // ---- step 5: IPv4 ----------------------------------------------------
    build_udp4();
    apply(33, 0); expect_malformed("ipv4_truncated (33 bytes)");
    eth(16'h0800); ipv4(4, 5, 20, 0, 99);
    apply(34, 0); expect_ok("ipv4 header only, 34 bytes", 1, 0, 0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0);
    eth(16'h0800); ipv4(6, 5, 20, 0, 99); fill(20, 0);
    apply(54, 0); expect_malformed("ipv4_version (6)");
    eth(16'h0800); ipv4(4, 4, 20, 0, 99); fill(20, 0);
    apply(54, 0); expect_malformed("ipv4_ihl (4)");
    eth(16'h0800); ipv4(4, 6, 23, 0, 99); fill(20, 0);
    apply(60, 0); expect_malformed("ipv4_length (tl < hl)");
    eth(16'h0800); ipv4(4, 5, 47, 0, 99); fill(30, 0);
    apply(60, 0); expect_malformed("ipv4_length (l3 + tl > len)");
    apply(61, 0); expect_ok("ipv4 l3 + tl == len", 1, 0, 0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0);
    // Longest header path: 2 tags, IHL 15, TCP flags at byte 95
    eth(16'h8100); tag(16'h0AAA, 16'h8100); tag(16'h0BBB, 16'h0800);
    ipv4(4, 15, 60 + 20, 0, 6); tcp(443, 50000, 5, 8'h12);
    apply(22 + 80, 0); expect_ok("2 tags + IHL 15 + TCP (byte 95)", 1, 0, 2, 12'hAAA, 0, 0, 6, 1, 443, 50000, 1, 8'h12, 0, 0);
    apply(22 + 79, 0); expect_malformed("same, one byte short (ipv4_length)");

    // Fragments
    eth(16'h0800); ipv4(4, 5, 20 + 20, 16'h2000, 6); tcp(80, 81, 5, 8'h02);
    apply(54, 0); expect_ok("first fragment (MF): L4 parsed", 1, 0, 0, 0, 1, 0, 6, 1, 80, 81, 1, 8'h02, 0, 0);
    eth(16'h0800); ipv4(4, 5, 20 + 8, 16'h0010, 6); fill(8, 8'h55);
    apply(60, 0); expect_ok("non-first fragment: no L4 check", 1, 0, 0, 0, 1, 1, 6, 0, 0, 0, 0, 0, 0, 0);
    eth(16'h0800); ipv4(4, 5, 20 + 8, 16'h3FFF, 17); fill(8, 8'h55);
    apply(60, 0); expect_ok("non-first fragment with MF", 1, 0, 0, 0, 1, 1, 17, 0, 0, 0, 0, 0, 0, 0);
    eth(16'h0800); ipv4(4, 5, 20 + 8, 16'h4000, 17); udp(7, 9, 8);
    apply(60, 0); expect_ok("DF only: not a fragment", 1, 0, 0, 0, 0, 0, 17, 1, 7, 9, 0, 0, 0, 0);

    // ---- step 6: IPv6 ----------------------------------------------------
    eth(16'h86DD); ipv6(6, 8, 17); udp(1000, 2000, 8);
    apply(53, 0); expect_malformed("ipv6_truncated (53 bytes)");
    apply(62, 0); expect_ok("ipv6 udp", 0, 1, 0, 0, 0, 0, 17, 1, 1000, 2000, 0, 0, 0, 0);
    apply(61, 0); expect_malformed("ipv6_length (l3 + 40 + pl > len)");
    eth(16'h86DD); ipv6(4, 8, 17); udp(1000, 2000, 8);
    apply(62, 0); expect_malformed("ipv6_version (4)");
    eth(16'h86DD); ipv6(6, 0, 59);
    apply(54, 0); expect_ok("ipv6 no next header, 54 bytes", 0, 1, 0, 0, 0, 0, 59, 0, 0, 0, 0, 0, 0, 0);
    eth(16'h88A8); tag(16'h0321, 16'h86DD); ipv6(6, 20, 6); tcp(22, 2222, 5, 8'hC3);
    apply(18 + 60, 0); expect_ok("1 tag + ipv6 tcp", 0, 1, 1, 12'h321, 0, 0, 6, 1, 22, 2222, 1, 8'hC3, 0, 0);
    eth(16'h86DD); ipv6(6, 8, 58); icmp(128); fill(4, 0);
    apply(62, 0); expect_ok("icmpv6 echo", 0, 1, 0, 0, 0, 0, 58, 0, 0, 0, 0, 0, 1, 128);
    eth(16'h86DD); ipv6(6, 3, 58); icmp(128);
    apply(57, 0); expect_malformed("icmp_truncated (icmpv6, pl 3)");
    eth(16'h86DD); ipv6(6, 8, 1); icmp(8); fill(4, 0);
    apply(62, 0); expect_ok("proto 1 in IPv6 is not ICMP", 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0);

    // ---- step 7: L4 over IPv4 --------------------------------------------
    eth(16'h0800); ipv4(4, 5, 20 + 19, 0, 6); tcp(1, 2, 5, 0);
    apply(60, 0); expect_malformed("tcp_truncated (avail 19)");
    eth(16'h0800); ipv4(4, 5, 20 + 20, 0, 6); tcp(1, 2, 4, 0);
    apply(60, 0); expect_malformed("tcp_offset (doff 4)");
    eth(16'h0800); ipv4(4, 5, 20 + 20, 0, 6); tcp(1, 2, 6, 0); fill(6, 0);
    apply(60, 0); expect_malformed("tcp_offset (4 * doff > avail)");
    eth(16'h0800); ipv4(4, 5, 20 + 24, 0, 6); tcp(1, 2, 6, 8'h01); fill(6, 0);
    apply(60, 0); expect_ok("tcp doff 6 fits", 1, 0, 0, 0, 0, 0, 6, 1, 1, 2, 1, 8'h01, 0, 0);
    eth(16'h0800); ipv4(4, 5, 20 + 7, 0, 17); udp(1, 2, 7); fill(20, 0);
    apply(60, 0); expect_malformed("udp_truncated (avail 7)");
    eth(16'h0800); ipv4(4, 5, 20 + 3, 0, 1); icmp(3); fill(20, 0);
    apply(60, 0); expect_malformed("icmp_truncated (avail 3)");
    eth(16'h0800); ipv4(4, 5, 20 + 4, 0, 1); icmp(3); fill(20, 0);
    apply(60, 0); expect_ok("icmp dest unreachable", 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 3);
    eth(16'h0800); ipv4(4, 5, 20 + 4, 0, 58); icmp(3); fill(20, 0);
    apply(60, 0); expect_ok("proto 58 in IPv4 is not ICMP", 1, 0, 0, 0, 0, 0, 58, 0, 0, 0, 0, 0, 0, 0);
    eth(16'h0800); ipv4(4, 5, 20 + 2, 0, 47); fill(30, 0);
    apply(60, 0); expect_ok("GRE: no L4 fields", 1, 0, 0, 0, 0, 0, 47, 0, 0, 0, 0, 0, 0, 0);
    eth(16'h0800); ipv4(4, 7, 28 + 8, 0, 17); udp(65535, 0, 8); fill(20, 0);
    apply(60, 0); expect_ok("IHL 7 + udp", 1, 0, 0, 0, 0, 0, 17, 1, 65535, 0, 0, 0, 0, 0);
    // Padding beyond the IPv4 total length is allowed
    eth(16'h0800); ipv4(4, 5, 20 + 8, 0, 17); udp(10, 20, 8); fill(40, 8'hFF);
    apply(100, 0); expect_ok("udp4 with padding", 1, 0, 0, 0, 0, 0, 17, 1, 10, 20, 0, 0, 0, 0);

    $display("PASS pf_parser_tb: %0d cases", cases);
    $finish;
end

endmodule
