package unittest

import (
	"fmt"
	"strings"

	"github.com/fpgactl/fpgactl/internal/junit"
)

// JUnit converts a result into a JUnit document: one testsuite per testbench,
// one testcase per case; a failure carries the last lines of output and the
// system-out names the log and the kept waveform.
func (r *Result) JUnit() *junit.Suites {
	doc := &junit.Suites{Name: "fpgactl unit"}
	index := map[string]int{}
	for _, t := range r.Tests {
		i, ok := index[t.TB]
		if !ok {
			i = len(doc.Suites)
			index[t.TB] = i
			doc.Suites = append(doc.Suites, junit.Suite{Name: t.TB})
		}
		c := junit.Case{Name: t.Name, Classname: t.Design + "." + t.TB, Time: t.Seconds}
		var out []string
		if t.Log != "" {
			out = append(out, "log: "+t.Log)
		}
		if t.Wave != "" {
			out = append(out, "wave: "+t.Wave)
		}
		c.SystemOut = strings.Join(out, "\n")
		switch t.Status {
		case StatusPass:
		case StatusSkipped:
			c.Skipped = &junit.Problem{Message: "not run: stopped after an earlier failure (use --keep-going) or interrupted"}
		case StatusFail, StatusTimeout:
			c.Failure = &junit.Problem{Type: t.Status, Message: t.Message, Text: junit.Clean(t.Tail)}
		default:
			c.Error = &junit.Problem{Type: t.Status, Message: t.Message, Text: junit.Clean(t.Tail)}
		}
		doc.Suites[i].Cases = append(doc.Suites[i].Cases, c)
	}
	return doc
}

// Summary is the one-line count, in the "N passed, N failed" form CI systems
// recognise as a test runner's closing line.
func (r *Result) Summary() string {
	s := fmt.Sprintf("%d passed, %d failed", r.Passed, r.Failed)
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", r.Skipped)
	}
	return s
}

// Timing says how long the run took and how many builds it made or reused.
func (r *Result) Timing() string {
	return fmt.Sprintf("%.1fs, %d builds, %d cached", r.Seconds, r.Builds, r.CachedBuilds)
}
