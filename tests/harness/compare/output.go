package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fpgactl/fpgactl/internal/junit"
	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
)

// Line is the one-line, readable form of a mismatch.
func (m Mismatch) Line() string {
	switch m.Kind {
	case Missing:
		return fmt.Sprintf("frame %d: missing: expected pass (rule %s), not received", m.Frame, m.Rule)
	case Unexpected:
		return fmt.Sprintf("frame %d: unexpected: expected %s (rule %s), received as #%d", m.Frame, m.Expected, m.Rule, m.Received)
	case Corrupted:
		return fmt.Sprintf("frame %d: corrupted: received as #%d, first difference at byte %d", m.Frame, m.Received, m.Offset)
	case Reordered:
		return fmt.Sprintf("frame %d: reordered: received as #%d after frame %d", m.Frame, m.Received, m.After)
	case Unknown:
		return fmt.Sprintf("received #%d: unknown: matches no sent frame", m.Received)
	}
	return fmt.Sprintf("frame %d: %s", m.Frame, m.Kind)
}

// WriteDiff writes the report as readable text: a summary, one line per
// mismatch, loss, latency, rates and counter differences.
func WriteDiff(w io.Writer, r *Report) error { return WriteSummary(w, r, -1) }

// WriteSummary is WriteDiff showing at most maxMismatches mismatch lines
// (-1: all), followed by how many were left out.
func WriteSummary(w io.Writer, r *Report, maxMismatches int) error {
	var b strings.Builder
	status := "PASSED"
	if !r.Passed() {
		status = fmt.Sprintf("FAILED (%d mismatches, %d counter differences)", len(r.Mismatches), len(r.CounterDiffs))
	}
	fmt.Fprintf(&b, "%d frames sent, %d expected to pass, %d received: %s\n", r.Sent, r.ExpectedPass, r.Received, status)
	for i, m := range r.Mismatches {
		if maxMismatches >= 0 && i == maxMismatches {
			fmt.Fprintf(&b, "... and %d more mismatches\n", len(r.Mismatches)-i)
			break
		}
		b.WriteString(m.Line())
		if m.Kind == Corrupted {
			s, rc := r.sent[m.sentPos].Data, r.received[m.Received].Data
			fmt.Fprintf(&b, " (expected %s, seen %s; length %d vs %d)", byteAt(s, m.Offset), byteAt(rc, m.Offset), len(s), len(rc))
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "loss: %d/%d (%.3f%%)\n", r.Missing, r.ExpectedPass, 100*r.Loss)
	if l := r.Latency; l.Samples > 0 {
		fmt.Fprintf(&b, "latency: min %d ns, avg %.1f ns, max %d ns over %d frames\n", l.MinNS, l.AvgNS, l.MaxNS, l.Samples)
	}
	if rt := r.Rates; rt.SpanNS > 0 {
		fmt.Fprintf(&b, "rates: %.0f frames/s, L2 %.0f bit/s, L1 %.0f bit/s over %d ns\n", rt.FramesPerSec, rt.L2BitsPerSec, rt.L1BitsPerSec, rt.SpanNS)
	}
	for _, d := range r.CounterDiffs {
		fmt.Fprintf(&b, "counter %s: expected %d packets/%d bytes, seen %d/%d\n", d.Name, d.Expected.Packets, d.Expected.Bytes, d.Seen.Packets, d.Seen.Bytes)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func byteAt(b []byte, i int) string {
	if i < 0 || i >= len(b) {
		return "end of frame"
	}
	return fmt.Sprintf("0x%02x", b[i])
}

// MismatchFrames returns the frames involved in mismatches, in mismatch
// order: the sent frame (with its replay time) and then the received frame
// (with its arrival time), whichever exist. A frame is listed once.
func (r *Report) MismatchFrames() []pcapio.Frame {
	var out []pcapio.Frame
	seenS, seenR := map[int]bool{}, map[int]bool{}
	for _, m := range r.Mismatches {
		if m.sentPos >= 0 && !seenS[m.sentPos] {
			seenS[m.sentPos] = true
			s := r.sent[m.sentPos]
			out = append(out, pcapio.Frame{Data: s.Data, TimeNS: s.TimeNS})
		}
		if m.Received >= 0 && !seenR[m.Received] {
			seenR[m.Received] = true
			rc := r.received[m.Received]
			out = append(out, pcapio.Frame{Data: rc.Data, TimeNS: rc.TimeNS})
		}
	}
	return out
}

// WriteMismatchPcap writes MismatchFrames to path as a nanosecond pcap
// (an empty capture when there are none).
func WriteMismatchPcap(path string, r *Report) error {
	return pcapio.WriteFile(path, r.MismatchFrames())
}

type jsonFrames struct {
	Sent         int `json:"sent"`
	ExpectedPass int `json:"expected_pass"`
	Received     int `json:"received"`
	Matched      int `json:"matched"`
}

type jsonReport struct {
	Passed     bool          `json:"passed"`
	Failed     []string      `json:"failed"`
	Frames     jsonFrames    `json:"frames"`
	Mismatches []Mismatch    `json:"mismatches"`
	Loss       float64       `json:"loss"`
	Latency    Latency       `json:"latency"`
	Rates      Rates         `json:"rates"`
	Counters   []CounterDiff `json:"counter_diffs,omitempty"`
}

// MarshalJSON gives {"passed","failed","frames","mismatches","loss",
// "latency","rates"} (plus "counter_diffs" when counters differ); "failed"
// lists the names of the failed checks, as in JUnitSuite.
func (r *Report) MarshalJSON() ([]byte, error) {
	j := jsonReport{
		Passed:     r.Passed(),
		Failed:     []string{},
		Frames:     jsonFrames{r.Sent, r.ExpectedPass, r.Received, r.Matched},
		Mismatches: r.Mismatches,
		Loss:       r.Loss,
		Latency:    r.Latency,
		Rates:      r.Rates,
		Counters:   r.CounterDiffs,
	}
	if j.Mismatches == nil {
		j.Mismatches = []Mismatch{}
	}
	for _, c := range r.checks() {
		if c.fail != "" {
			j.Failed = append(j.Failed, c.name)
		}
	}
	return json.Marshal(j)
}

type check struct {
	name string
	fail string // failure message, "" when the check passed
	text string // details
}

// mismatchCheck is the check name over the mismatches of kinds: failed,
// with fail(n) as its message and their lines as details, when there are n > 0.
func (r *Report) mismatchCheck(name string, fail func(n int) string, kinds ...Kind) check {
	var b strings.Builder
	n := 0
	for _, m := range r.Mismatches {
		if slices.Contains(kinds, m.Kind) {
			n++
			b.WriteString(m.Line())
			b.WriteByte('\n')
		}
	}
	if n == 0 {
		return check{name: name}
	}
	return check{name, fail(n), b.String()}
}

func (r *Report) checks() []check {
	cs := []check{
		r.mismatchCheck("order", func(n int) string { return fmt.Sprintf("%d frames out of order", n) }, Reordered),
		r.mismatchCheck("loss", func(n int) string {
			return fmt.Sprintf("%d of %d expected frames missing (%.3f%%)", n, r.ExpectedPass, 100*r.Loss)
		}, Missing),
		r.mismatchCheck("unexpected", func(n int) string { return fmt.Sprintf("%d frames received that should not have been", n) }, Unexpected, Unknown),
		r.mismatchCheck("corrupted", func(n int) string { return fmt.Sprintf("%d frames corrupted", n) }, Corrupted),
	}
	if r.CountersChecked {
		c := check{name: "counters"}
		if len(r.CounterDiffs) > 0 {
			c.fail = fmt.Sprintf("%d counters differ from the model", len(r.CounterDiffs))
			var b strings.Builder
			for _, d := range r.CounterDiffs {
				fmt.Fprintf(&b, "%s: expected %d/%d, seen %d/%d\n", d.Name, d.Expected.Packets, d.Expected.Bytes, d.Seen.Packets, d.Seen.Bytes)
			}
			c.text = b.String()
		}
		cs = append(cs, c)
	}
	return cs
}

// JUnitSuite returns a suite named name with one case per check: order,
// loss, unexpected (which includes unknown frames), corrupted and, when
// counters were given, counters.
func JUnitSuite(name string, r *Report) junit.Suite {
	s := junit.Suite{Name: name}
	for _, c := range r.checks() {
		tc := junit.Case{Name: c.name, Classname: name}
		if c.fail != "" {
			tc.Failure = &junit.Problem{Message: c.fail, Type: c.name, Text: junit.Clean(c.text)}
		}
		s.Cases = append(s.Cases, tc)
	}
	return s
}
