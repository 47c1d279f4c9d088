package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A bytes.Buffer is not a terminal: updates are throttled to one per 5 s,
// so a burst of quick updates right after New prints nothing.
func TestQuickUpdatesOffTerminalPrintNothing(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, "replay")
	if l.tty {
		t.Fatal("a bytes.Buffer is not a terminal")
	}
	if l.every != 5*time.Second {
		t.Errorf("interval off a terminal %v, want 5s", l.every)
	}
	for i := 1; i <= 100; i++ {
		l.Update(i, i/2, 1000)
	}
	l.Update(1000, 900, 1000)
	l.Done()
	if b.Len() != 0 {
		t.Errorf("quick updates printed %q", b.String())
	}
}

func TestUpdateWhileSending(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, "replay")
	l.every = 0
	l.Update(250, 120, 1000)
	out := b.String()
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("want one plain line off a terminal, got %q", out)
	}
	if strings.Contains(out, "\r") || strings.Contains(out, "\033") {
		t.Errorf("terminal control characters off a terminal: %q", out)
	}
	for _, want := range []string{"replay: ", "250/1000 frames sent", "(25%)", "120 received", "frames/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("line %q lacks %q", out, want)
		}
	}

	b.Reset()
	l.Update(500, 480, 1000)
	if out := b.String(); !strings.Contains(out, "500/1000 frames sent (50%)") || !strings.Contains(out, "480 received") {
		t.Errorf("second update %q", out)
	}
}

func TestUpdateAllSent(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, "bench")
	l.every = 0
	l.Update(40, 37, 40)
	out := b.String()
	for _, want := range []string{"bench: ", "all 40 frames sent", "37 received", "waiting for the rest"} {
		if !strings.Contains(out, want) {
			t.Errorf("line %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "40/40") {
		t.Errorf("after all sent the line should not show a fraction: %q", out)
	}
	// The same text again is not repeated.
	b.Reset()
	l.Update(40, 37, 40)
	if b.Len() != 0 {
		t.Errorf("repeated identical line: %q", b.String())
	}
	// Done prints nothing off a terminal.
	l.Done()
	if b.Len() != 0 {
		t.Errorf("Done off a terminal printed %q", b.String())
	}
}

// Once the interval has passed, the next update is printed.
func TestIntervalElapsed(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, "replay")
	l.every = 200 * time.Millisecond
	l.Update(1, 0, 10)
	if b.Len() != 0 {
		t.Fatalf("update inside the interval printed %q", b.String())
	}
	time.Sleep(250 * time.Millisecond)
	l.Update(2, 1, 10)
	if !strings.Contains(b.String(), "2/10 frames sent (20%)") {
		t.Errorf("update after the interval: %q", b.String())
	}
	b.Reset()
	l.Update(3, 2, 10) // right after a print: throttled again
	if b.Len() != 0 {
		t.Errorf("update right after a print: %q", b.String())
	}
}

func TestNilSafe(t *testing.T) {
	l := New(nil, "x")
	l.every = 0
	l.Update(1, 1, 2)
	l.Update(2, 2, 2)
	l.Done()

	var nl *Line
	nl.Update(1, 1, 2)
	nl.Done()
}
