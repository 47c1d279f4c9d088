// Simulated board: pf_filter compiled by Verilator, driven over a batched
// binary protocol on stdin/stdout (sim/board/protocol.go is the other end and
// documents the messages). Built by sim/board with -DPFSB_* defines.
//
//   Vpf_filter --clock-hz HZ                 serve the protocol on stdin/stdout
//   Vpf_filter --clock-hz HZ --raw FILE      run a recorded request stream from
//                                            memory, discard the replies, print
//                                            frames/s on stderr (the speed limit
//                                            of the model without any harness)
//
// One clock cycle = inputs set, negedge eval, handshakes sampled, posedge
// eval. time_ns is derived from the cycle count, so the policer sees the same
// time the harness is told in SENT replies. When the pipeline is empty and the
// next frame is far away, the cycle counter jumps instead of clocking idle
// cycles: nothing in the design depends on idle clocks.

#include "Vpf_filter.h"
#include "Vpf_filter___024root.h"
#include "verilated.h"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#ifndef PFSB_DATA_WIDTH
#error "build with -DPFSB_DATA_WIDTH=<DATA_WIDTH>"
#endif

namespace {

constexpr int kBeatBytes = PFSB_DATA_WIDTH / 8;
constexpr uint32_t kProtocolVersion = 1;
constexpr uint64_t kAsap = ~0ull;
constexpr uint32_t kMaxFrame = 65535;
// Register accesses after traffic wait this long after the last input beat,
// so the frame before them has taken its verdict (VERDICT_LATENCY is 5).
constexpr uint64_t kRegisterSettle = 8;
constexpr uint32_t kGeometryAddr = 0x0C;

enum Request : uint8_t {
    kReqFrame = 1, kReqWrite = 2, kReqRead = 3, kReqSync = 4,
    kReqBase = 5, kReqConfig = 6, kReqReset = 7, kReqQuit = 8,
};
enum Reply : uint8_t {
    kRepHello = 0x80, kRepSent = 0x81, kRepOut = 0x82, kRepWrite = 0x83,
    kRepRead = 0x84, kRepSynced = 0x85, kRepError = 0x8F,
};

// ---------------------------------------------------------------------------
// Byte streams
// ---------------------------------------------------------------------------

// Input reads requests from a file descriptor, or from memory in --raw mode.
class Input {
public:
    explicit Input(int fd) : fd_(fd), buf_(1 << 20) {}
    void load(std::vector<uint8_t> data) {
        buf_ = std::move(data);
        end_ = buf_.size();
        fd_ = -1;
    }
    size_t buffered() const { return end_ - pos_; }
    // True when a read would not block.
    bool ready() {
        if (buffered() > 0 || fd_ < 0) return true;
        pollfd p{fd_, POLLIN, 0};
        return poll(&p, 1, 0) > 0;
    }
    // Makes n bytes available; false at end of input.
    bool need(size_t n) {
        while (buffered() < n) {
            if (fd_ < 0) return false;
            if (pos_ > 0) {
                memmove(buf_.data(), buf_.data() + pos_, buffered());
                end_ -= pos_;
                pos_ = 0;
            }
            if (end_ + n > buf_.size()) buf_.resize(end_ + n);
            ssize_t got = read(fd_, buf_.data() + end_, buf_.size() - end_);
            if (got <= 0) return false;
            end_ += size_t(got);
        }
        return true;
    }
    const uint8_t* take(size_t n) {
        const uint8_t* p = buf_.data() + pos_;
        pos_ += n;
        return p;
    }

private:
    int fd_;
    std::vector<uint8_t> buf_;
    size_t pos_ = 0, end_ = 0;
};

// Output buffers replies for a file descriptor, or only counts them.
class Output {
public:
    explicit Output(int fd) : fd_(fd) { buf_.reserve(1 << 20); }
    void discard() { fd_ = -1; }
    void u8(uint8_t v) { buf_.push_back(v); }
    void u32(uint32_t v) { put(&v, 4); }
    void u64(uint64_t v) { put(&v, 8); }
    void put(const void* p, size_t n) {
        const uint8_t* b = static_cast<const uint8_t*>(p);
        buf_.insert(buf_.end(), b, b + n);
    }
    void end_message() {
        if (buf_.size() >= (1 << 20)) flush();
    }
    void flush() {
        if (fd_ >= 0) {
            size_t off = 0;
            while (off < buf_.size()) {
                ssize_t n = write(fd_, buf_.data() + off, buf_.size() - off);
                if (n <= 0) std::exit(3);  // the harness went away
                off += size_t(n);
            }
        }
        bytes_ += buf_.size();
        buf_.clear();
    }
    uint64_t bytes() const { return bytes_ + buf_.size(); }

private:
    int fd_;
    std::vector<uint8_t> buf_;
    uint64_t bytes_ = 0;
};

template <typename T>
T get(const uint8_t* p) {
    T v;
    memcpy(&v, p, sizeof v);  // the protocol is little-endian, like the host
    return v;
}

// ---------------------------------------------------------------------------
// Bus helpers for narrow (integer) and wide (VlWide) signals
// ---------------------------------------------------------------------------

template <typename T>
void set_bytes(T& sig, const uint8_t* p, int n) {
    if constexpr (std::is_integral<T>::value) {
        uint64_t v = 0;
        memcpy(&v, p, size_t(n));
        sig = T(v);
    } else {
        constexpr int words = PFSB_DATA_WIDTH / 32;
        uint32_t w[words] = {};
        memcpy(w, p, size_t(n));
        for (int i = 0; i < words; ++i) sig[i] = w[i];
    }
}

template <typename T>
void get_bytes(const T& sig, uint8_t* p, int n) {
    if constexpr (std::is_integral<T>::value) {
        uint64_t v = uint64_t(sig);
        memcpy(p, &v, size_t(n));
    } else {
        constexpr int words = PFSB_DATA_WIDTH / 32;
        uint32_t w[words];
        for (int i = 0; i < words; ++i) w[i] = sig[i];
        memcpy(p, w, size_t(n));
    }
}

uint64_t keep_mask(int n) { return n >= 64 ? ~0ull : ((1ull << n) - 1); }

int keep_count(uint64_t keep) { return __builtin_popcountll(keep); }

// ---------------------------------------------------------------------------
// The board
// ---------------------------------------------------------------------------

class Board {
public:
    Board(uint64_t clock_hz, Input& in, Output& out)
        : clock_hz_(clock_hz), in_(in), out_(out), ctx_(new VerilatedContext), top_(new Vpf_filter(ctx_.get())) {
        reset();
    }
    ~Board() { top_->final(); }

    // Serves requests until QUIT or end of input.
    void serve() {
        out_.u8(kRepHello);
        out_.put("PFSB", 4);
        out_.u32(kProtocolVersion);
        out_.u32(PFSB_DATA_WIDTH);
        out_.u64(clock_hz_);
        out_.u32(latency_);
        out_.end_message();
        for (;;) {
            if (!wait_for_request()) break;
            if (!in_.need(1)) break;
            uint8_t type = *in_.take(1);
            if (!handle(type)) break;
        }
        out_.flush();
    }

    uint64_t frames_in() const { return frames_in_; }
    uint64_t frames_out() const { return frames_out_; }
    uint64_t cycles() const { return cycle_; }
    uint64_t evaluated_cycles() const { return evaluated_; }
    // Seconds since the first BASE request: the replay, without rule loading.
    double replay_seconds() const {
        if (!based_) return 0;
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - base_time_).count();
    }

private:
    uint64_t time_ns(uint64_t c) const { return uint64_t((unsigned __int128)c * 1000000000u / clock_hz_); }
    uint64_t cycle_at(uint64_t ns) const {
        unsigned __int128 x = (unsigned __int128)ns * clock_hz_;
        return uint64_t((x + 999999999u) / 1000000000u);
    }

    // Nothing in flight: the delay FIFO is empty (its pointers are public for
    // this) and no output frame is half captured. The verdict pipeline only
    // holds verdicts of frames whose beats are still in the FIFO.
    bool quiet() const {
        return top_->rootp->pf_filter__DOT__delay_fifo_inst__DOT__wr_ptr_reg ==
                   top_->rootp->pf_filter__DOT__delay_fifo_inst__DOT__rd_ptr_reg &&
               out_frame_.empty();
    }

    // Blocks for the next request, unless live mode must keep the clock running
    // to move frames in flight out.
    bool wait_for_request() {
        if (in_.buffered() > 0) return true;
        out_.flush();
        if (live_) {
            while (!quiet() && !in_.ready()) {
                for (int i = 0; i < 16; ++i) tick(false);
                out_.flush();
            }
        }
        return true;
    }

    void error(const std::string& msg) {
        out_.u8(kRepError);
        out_.u32(uint32_t(msg.size()));
        out_.put(msg.data(), msg.size());
        out_.flush();
        std::exit(2);
    }

    bool handle(uint8_t type) {
        switch (type) {
        case kReqFrame: {
            if (!in_.need(21)) error("truncated FRAME request");
            const uint8_t* h = in_.take(21);
            uint64_t tag = get<uint64_t>(h), at = get<uint64_t>(h + 8);
            uint32_t len = get<uint32_t>(h + 16);
            uint8_t flags = h[20];
            if (len == 0 || len > kMaxFrame) error("FRAME length " + std::to_string(len) + " outside 1..65535");
            if (!in_.need(len)) error("truncated FRAME data");
            const uint8_t* data = in_.take(len);
            send_frame(tag, at, data, int(len), flags & 1);
            return true;
        }
        case kReqWrite: {
            if (!in_.need(8)) error("truncated WRITE request");
            const uint8_t* h = in_.take(8);
            uint32_t addr = get<uint32_t>(h);
            uint8_t resp = axil_write(addr, get<uint32_t>(h + 4));
            out_.u8(kRepWrite);
            out_.u32(addr);
            out_.u8(resp);
            out_.end_message();
            return true;
        }
        case kReqRead: {
            if (!in_.need(4)) error("truncated READ request");
            uint32_t addr = get<uint32_t>(in_.take(4));
            uint8_t resp = 0;
            uint32_t data = axil_read(addr, &resp);
            out_.u8(kRepRead);
            out_.u32(addr);
            out_.u32(data);
            out_.u8(resp);
            out_.end_message();
            return true;
        }
        case kReqSync: {
            if (!in_.need(8)) error("truncated SYNC request");
            uint64_t token = get<uint64_t>(in_.take(8));
            while (!quiet()) tick(false);
            out_.u8(kRepSynced);
            out_.u64(token);
            out_.u64(cycle_);
            out_.u64(time_ns(cycle_));
            out_.end_message();
            return true;
        }
        case kReqBase:
            base_cycle_ = cycle_;
            if (!based_) {
                based_ = true;
                base_time_ = std::chrono::steady_clock::now();
            }
            return true;
        case kReqConfig: {
            if (!in_.need(13)) error("truncated CONFIG request");
            const uint8_t* h = in_.take(13);
            backpressure_ppm_ = get<uint32_t>(h);
            rng_ = get<uint64_t>(h + 4) | 1;
            live_ = h[12] & 1;
            return true;
        }
        case kReqReset:
            reset();
            return true;
        case kReqQuit:
            return false;
        default:
            error("unknown request type " + std::to_string(type));
        }
        return false;
    }

    bool downstream_ready() {
        if (backpressure_ppm_ == 0) return true;
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        return (rng_ % 1000000) >= backpressure_ppm_;
    }

    // One clock cycle: inputs set, negedge eval, handshakes sampled (sample
    // runs then, with the values the posedge will act on), posedge eval.
    // in_beat drives s_axis_tvalid; returns whether that beat was accepted.
    template <typename Sample>
    bool tick(bool in_beat, Sample sample) {
        top_->s_axis_tvalid = in_beat;
        top_->m_axis_tready = downstream_ready();
        top_->time_ns = time_ns(cycle_);
        top_->clk = 0;
        top_->eval();
        bool accepted = in_beat && top_->s_axis_tready;
        if (top_->m_axis_tvalid && top_->m_axis_tready) capture_output();
        if (accepted) last_in_cycle_ = cycle_;
        sample();
        top_->clk = 1;
        top_->eval();
        ++cycle_;
        ++evaluated_;
        return accepted;
    }
    bool tick(bool in_beat) {
        return tick(in_beat, [] {});
    }

    void capture_output() {
        uint64_t keep = uint64_t(top_->m_axis_tkeep);
        int n = keep_count(keep);
        if (out_frame_.empty()) out_first_cycle_ = cycle_;
        size_t at = out_frame_.size();
        out_frame_.resize(at + size_t(n));
        uint8_t beat[kBeatBytes];
        get_bytes(top_->m_axis_tdata, beat, kBeatBytes);
        memcpy(out_frame_.data() + at, beat, size_t(n));
        if (top_->m_axis_tlast) {
            out_.u8(kRepOut);
            out_.u64(time_ns(out_first_cycle_));
            out_.u64(time_ns(cycle_));
            out_.u32(uint32_t(out_frame_.size()));
            out_.u8(top_->m_axis_tuser ? 1 : 0);
            out_.put(out_frame_.data(), out_frame_.size());
            out_.end_message();
            out_frame_.clear();
            ++frames_out_;
            if (live_) out_.flush();
        }
    }

    void send_frame(uint64_t tag, uint64_t at_ns, const uint8_t* data, int len, bool mac_error) {
        if (at_ns != kAsap) {
            uint64_t target = base_cycle_ + cycle_at(at_ns);
            while (cycle_ < target) {
                if (quiet()) {
                    cycle_ = target;  // nothing in flight: jump over the idle time
                    break;
                }
                tick(false);
            }
        }
        int beats = (len + kBeatBytes - 1) / kBeatBytes;
        for (int b = 0; b < beats; ++b) {
            int n = std::min(kBeatBytes, len - b * kBeatBytes);
            set_bytes(top_->s_axis_tdata, data + b * kBeatBytes, n);
            top_->s_axis_tkeep = keep_mask(n);
            bool last = b == beats - 1;
            top_->s_axis_tlast = last;
            top_->s_axis_tuser = last && mac_error;
            uint64_t c = cycle_;
            while (!tick(true)) c = cycle_;
            if (b == 0) {
                out_.u8(kRepSent);
                out_.u64(tag);
                out_.u64(time_ns(c));
                out_.end_message();
            }
        }
        top_->s_axis_tlast = 0;
        top_->s_axis_tuser = 0;
        ++frames_in_;
    }

    void settle_for_registers() {
        while (cycle_ - last_in_cycle_ <= kRegisterSettle) tick(false);
    }

    uint8_t axil_write(uint32_t addr, uint32_t data) {
        settle_for_registers();
        top_->s_axil_awaddr = addr;
        top_->s_axil_awprot = 0;
        top_->s_axil_wdata = data;
        top_->s_axil_wstrb = 0xF;
        top_->s_axil_awvalid = 1;
        top_->s_axil_wvalid = 1;
        top_->s_axil_bready = 1;
        uint8_t resp = 0;
        for (int guard = 0;; ++guard) {
            if (guard > 1000) error("AXI4-Lite write to " + std::to_string(addr) + " got no response in 1000 cycles");
            bool aw_fire = false, w_fire = false, b_fire = false;
            tick(false, [&] {
                aw_fire = top_->s_axil_awvalid && top_->s_axil_awready;
                w_fire = top_->s_axil_wvalid && top_->s_axil_wready;
                b_fire = top_->s_axil_bvalid && top_->s_axil_bready;
                if (b_fire) resp = top_->s_axil_bresp;
            });
            if (aw_fire) top_->s_axil_awvalid = 0;
            if (w_fire) top_->s_axil_wvalid = 0;
            if (b_fire) break;
        }
        top_->s_axil_bready = 0;
        return resp;
    }

    uint32_t axil_read(uint32_t addr, uint8_t* resp) {
        settle_for_registers();
        top_->s_axil_araddr = addr;
        top_->s_axil_arprot = 0;
        top_->s_axil_arvalid = 1;
        top_->s_axil_rready = 1;
        uint32_t data = 0;
        for (int guard = 0;; ++guard) {
            if (guard > 1000) error("AXI4-Lite read of " + std::to_string(addr) + " got no response in 1000 cycles");
            bool ar_fire = false, r_fire = false;
            tick(false, [&] {
                ar_fire = top_->s_axil_arvalid && top_->s_axil_arready;
                r_fire = top_->s_axil_rvalid && top_->s_axil_rready;
                if (r_fire) {
                    data = top_->s_axil_rdata;
                    *resp = top_->s_axil_rresp;
                }
            });
            if (ar_fire) top_->s_axil_arvalid = 0;
            if (r_fire) break;
        }
        top_->s_axil_rready = 0;
        return data;
    }

    // Reset clears the whole design: rules, counters, buckets, FIFO.
    void reset() {
        top_->s_axis_tvalid = 0;
        top_->s_axis_tlast = 0;
        top_->s_axis_tuser = 0;
        top_->s_axil_awvalid = 0;
        top_->s_axil_wvalid = 0;
        top_->s_axil_bready = 0;
        top_->s_axil_arvalid = 0;
        top_->s_axil_rready = 0;
        top_->m_axis_tready = 1;
        top_->rst = 1;
        for (int i = 0; i < 8; ++i) {
            top_->time_ns = time_ns(cycle_);
            top_->clk = 0;
            top_->eval();
            top_->clk = 1;
            top_->eval();
            ++cycle_;
        }
        top_->rst = 0;
        out_frame_.clear();
        last_in_cycle_ = cycle_;
        uint8_t resp = 0;
        latency_ = axil_read(kGeometryAddr, &resp) >> 16;
        if (resp != 0 || latency_ == 0) error("GEOMETRY register unreadable after reset");
    }

    uint64_t clock_hz_;
    Input& in_;
    Output& out_;
    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<Vpf_filter> top_;
    uint64_t cycle_ = 0, evaluated_ = 0, base_cycle_ = 0, last_in_cycle_ = 0;
    uint32_t latency_ = 0;
    uint32_t backpressure_ppm_ = 0;
    uint64_t rng_ = 1;
    bool live_ = false;
    std::vector<uint8_t> out_frame_;
    uint64_t out_first_cycle_ = 0;
    uint64_t frames_in_ = 0, frames_out_ = 0;
    bool based_ = false;
    std::chrono::steady_clock::time_point base_time_;
};

std::vector<uint8_t> read_file(const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "board: cannot open %s\n", path);
        std::exit(2);
    }
    std::vector<uint8_t> data;
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + n);
    fclose(f);
    return data;
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t clock_hz = 0;
    const char* raw = nullptr;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--clock-hz" && i + 1 < argc) {
            clock_hz = strtoull(argv[++i], nullptr, 10);
        } else if (a == "--raw" && i + 1 < argc) {
            raw = argv[++i];
        } else {
            fprintf(stderr, "usage: %s --clock-hz HZ [--raw REQUESTS]\n", argv[0]);
            return 2;
        }
    }
    if (clock_hz == 0) {
        fprintf(stderr, "board: --clock-hz is required\n");
        return 2;
    }
    Input in(0);
    Output out(1);
    if (raw) {
        in.load(read_file(raw));
        out.discard();
    }
    Board board(clock_hz, in, out);
    board.serve();
    if (raw) {
        double secs = board.replay_seconds();
        fprintf(stderr,
                "{\"frames_in\":%llu,\"frames_out\":%llu,\"cycles\":%llu,\"evaluated_cycles\":%llu,"
                "\"seconds\":%.6f,\"reply_bytes\":%llu}\n",
                (unsigned long long)board.frames_in(), (unsigned long long)board.frames_out(),
                (unsigned long long)board.cycles(), (unsigned long long)board.evaluated_cycles(), secs,
                (unsigned long long)out.bytes());
    }
    return 0;
}
