// Per-rule token-bucket policer (hdl/SPEC.md §4), in Chisel.
//
// The same block as the SystemVerilog pf_policer it replaced (kept as the
// reference model hdl/ref/pf_policer_ref.sv), port for port and cycle for
// cycle: the bucket of the rule named by in_idx is read, refilled, charged
// and written back within one cycle, so a frame every cycle is handled
// correctly even when consecutive frames hit the same rule. The verdict is
// registered. A change of in_epoch (a new table became active) un-primes
// every bucket. The epoch is the rule table's 16-bit swap count, so any
// number of swaps between two police frames (short of a multiple of 2^16) is
// seen as a change.
//
// One Verilog module per rule count: PfPolicer(n) is emitted as
// pf_policer_n<n>, and the generated SystemVerilog wrapper pf_policer
// (Generate.scala) picks the one its NUM_RULES parameter names.

package fpgactl.pf

import chisel3._
import chisel3.experimental.{annotate, ChiselAnnotation}
import chisel3.util.{log2Ceil, Cat}
import firrtl.annotations.PresetAnnotation

class PfPolicer(val numRules: Int) extends RawModule {
  require(numRules >= 1, s"pf_policer: NUM_RULES must be at least 1 (got $numRules)")

  /** Width of a rule index, as the SystemVerilog's RULE_IDX_W. */
  val ruleIdxW: Int = if (numRules > 1) log2Ceil(numRules) else 1

  override def desiredName: String = s"pf_policer_n$numRules"

  // Ports: names, widths and directions of the SystemVerilog pf_policer.
  val clk = IO(Input(Clock()))
  val rst = IO(Input(Bool()))
  // A frame that hit police rule in_idx, with the rule's configuration
  val in_valid        = IO(Input(Bool()))
  val in_idx          = IO(Input(UInt(ruleIdxW.W)))
  val in_epoch        = IO(Input(UInt(16.W))) // swap count of the table used
  val in_police_bytes = IO(Input(Bool()))
  val in_rate         = IO(Input(UInt(40.W)))
  val in_burst        = IO(Input(UInt(32.W)))
  val in_ts           = IO(Input(UInt(64.W)))
  val in_len          = IO(Input(UInt(16.W)))
  // Verdict, one cycle after in_valid
  val out_valid   = IO(Output(Bool()))
  val out_conform = IO(Output(Bool()))

  // Power-up values (the SystemVerilog's `logic x = '0`): registers reset by
  // this preset start at their init value when the FPGA is configured or the
  // simulation starts. The synchronous rst below is separate logic, as in the
  // SystemVerilog, and only touches the control state.
  private val powerUp = Wire(AsyncReset())
  powerUp := false.B.asAsyncReset
  annotate(new ChiselAnnotation { def toFirrtl = PresetAnnotation(powerUp.toTarget) })

  withClockAndReset(clk, powerUp) {
    // Bucket state. Only the primed bits are control state; tokens and
    // last_ns are ignored until the bucket has been primed, so they need no
    // reset.
    val tokens_mem  = Mem(numRules, UInt(64.W))
    val last_ns_mem = Mem(numRules, UInt(64.W))
    val primed_reg  = RegInit(0.U(numRules.W))
    val epoch_reg   = RegInit(0.U(16.W))

    // A frame from a new table sees every bucket un-primed
    val epoch_same  = in_epoch === epoch_reg
    val cur_primed  = primed_reg(in_idx) && epoch_same
    val cur_tokens  = tokens_mem(in_idx)
    val cur_last_ns = last_ns_mem(in_idx)

    val cap = Cat(in_burst, 0.U(32.W))
    // The clock stepped back: no refill (dt = 0)
    val time_back = in_ts < cur_last_ns
    val dt        = Mux(time_back, 0.U(64.W), in_ts - cur_last_ns)
    val dt_capped = Mux(dt(63, 32) =/= 0.U, "hffff_ffff".U(32.W), dt(31, 0))
    val add       = in_rate * dt_capped // 40 x 32 -> 72 bits, exact
    val room      = cap - cur_tokens // modulo 2^64, as in the model
    val filled    = Mux(!cur_primed || add >= room, cap, cur_tokens + add(63, 0))
    val need      = Cat(Mux(in_police_bytes, in_len, 1.U(16.W)), 0.U(32.W))
    // Not enough tokens: policed, and the bucket keeps what it had
    val short      = filled < need
    val conform    = !short
    val new_tokens = Mux(conform, filled - need, filled)

    when(in_valid) {
      tokens_mem(in_idx)  := new_tokens
      last_ns_mem(in_idx) := in_ts
    }

    val out_valid_reg   = RegInit(false.B)
    val out_conform_reg = Reg(Bool())
    out_valid_reg   := in_valid
    out_conform_reg := conform

    when(in_valid) {
      epoch_reg := in_epoch
      // Un-primes every bucket on a new epoch, then primes this frame's
      val kept = Mux(epoch_same, primed_reg, 0.U(numRules.W))
      // (an index past the last rule sets no bit, as an out-of-range write in SV)
      primed_reg := kept | (1.U << in_idx)(numRules - 1, 0)
    }
    when(rst) {
      out_valid_reg := false.B
      primed_reg    := 0.U
      epoch_reg     := 0.U
    }

    out_valid   := out_valid_reg
    out_conform := out_conform_reg
  }
}
