package rules

// AXI4-Lite register byte addresses (SPEC §6).
const (
	RegID           uint32 = 0x00000
	RegVersion      uint32 = 0x00004
	RegConfig       uint32 = 0x00008
	RegGeometry     uint32 = 0x0000C
	RegControl      uint32 = 0x00010
	RegSwap         uint32 = 0x00014
	RegCounterClear uint32 = 0x00018

	TotalsBase        uint32 = 0x00100 // + 16·k, k = TotalIn..TotalMalformed
	TotalsStride      uint32 = 0x10
	RuleWordsBase     uint32 = 0x10000 // + 0x80·r + 4·w
	RuleWordsStride   uint32 = 0x80
	RuleCounterBase   uint32 = 0x40000 // + 0x10·r
	RuleCounterStride uint32 = 0x10

	// Offsets inside a 16-byte counter block (totals and rule counters).
	CounterPacketsLo uint32 = 0x0
	CounterPacketsHi uint32 = 0x4
	CounterBytesLo   uint32 = 0x8
	CounterBytesHi   uint32 = 0xC
)

// Values of read-only identification registers.
const (
	IDValue      uint32 = 0x50464C54 // "PFLT"
	VersionValue uint32 = 0x00010000
)

// CONTROL bits.
const (
	ControlDefaultDrop   uint32 = 1 << 0
	ControlMalformedPass uint32 = 1 << 1
)

// COUNTER_CLEAR bits.
const (
	ClearTotals uint32 = 1 << 0
	ClearRules  uint32 = 1 << 1
)

// Total counter indexes k of SPEC §5/§6.
const (
	TotalIn = iota
	TotalPassed
	TotalDropped
	TotalPoliced
	TotalMalformed
	NumTotals
)

// TotalNames names the totals in index order.
var TotalNames = [NumTotals]string{"in", "passed", "dropped", "policed", "malformed"}

// TotalAddr is the address of the packets low word of total k; add
// CounterBytesLo for its bytes.
func TotalAddr(k int) uint32 { return TotalsBase + TotalsStride*uint32(k) }

// RuleWordAddr is the address of shadow rule r, word w.
func RuleWordAddr(r, w int) uint32 { return RuleWordsBase + RuleWordsStride*uint32(r) + 4*uint32(w) }

// RuleCounterAddr is the address of rule r's packets low word; add
// CounterBytesLo for its bytes.
func RuleCounterAddr(r int) uint32 { return RuleCounterBase + RuleCounterStride*uint32(r) }

// RegWrite is one AXI4-Lite write.
type RegWrite struct {
	Addr uint32 `json:"addr"`
	Data uint32 `json:"data"`
}

// Control is the CONTROL register value for the table's default actions.
func (t *Table) Control() uint32 {
	var c uint32
	if t.DefaultDrop {
		c |= ControlDefaultDrop
	}
	if t.MalformedPass {
		c |= ControlMalformedPass
	}
	return c
}

// RegisterWrites returns the writes that load the table into a filter with
// numRules rule slots and make it active: every word of every slot (unused
// slots zeroed, so nothing stale survives), CONTROL, then SWAP.
// Entries beyond numRules are not written; Compile rejects such tables.
func (t *Table) RegisterWrites(numRules int) []RegWrite {
	out := make([]RegWrite, 0, numRules*WordsPerRule+2)
	for r := 0; r < numRules; r++ {
		var w [WordsPerRule]uint32
		if r < len(t.Entries) {
			w = t.Entries[r].Words()
		}
		for i, v := range w {
			out = append(out, RegWrite{Addr: RuleWordAddr(r, i), Data: v})
		}
	}
	out = append(out, RegWrite{Addr: RegControl, Data: t.Control()}, RegWrite{Addr: RegSwap, Data: 1})
	return out
}
