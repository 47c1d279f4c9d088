// Package progress shows how far a long replay is: one line rewritten in
// place on a terminal, or a plain line every few seconds in a log (CI).
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Line reports frames sent and received out of a total.
type Line struct {
	w        io.Writer
	label    string
	tty      bool
	every    time.Duration
	start    time.Time
	mu       sync.Mutex
	last     time.Time
	shown    bool
	lastText string
}

// New returns a Line writing to w (nil: shows nothing). On a terminal it
// redraws at most 10 times a second; elsewhere it prints every 5 seconds.
func New(w io.Writer, label string) *Line {
	now := time.Now()
	l := &Line{w: w, label: label, start: now, last: now, every: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			l.tty, l.every = true, 100*time.Millisecond
		}
	}
	return l
}

// Update is a target.Progress.
func (l *Line) Update(sent, received, total int) {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.last) < l.every {
		return
	}
	l.last = now
	el := now.Sub(l.start).Seconds()
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(sent) / float64(total)
	}
	var text string
	if sent < total {
		rate := float64(sent) / el
		eta := ""
		if rate > 0 && el >= 1 {
			eta = fmt.Sprintf(", %s left", (time.Duration(float64(total-sent)/rate*1e9) * time.Nanosecond).Round(time.Second))
		}
		text = fmt.Sprintf("%s: %d/%d frames sent (%.0f%%), %d received, %.0f frames/s%s", l.label, sent, total, pct, received, rate, eta)
	} else {
		text = fmt.Sprintf("%s: all %d frames sent, %d received, waiting for the rest (%.0fs)", l.label, total, received, el)
	}
	if text == l.lastText {
		return
	}
	l.lastText = text
	if l.tty {
		fmt.Fprintf(l.w, "\r\033[K%s", text)
		l.shown = true
	} else {
		fmt.Fprintln(l.w, text)
	}
}

// Done ends the line on a terminal.
func (l *Line) Done() {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tty && l.shown {
		fmt.Fprint(l.w, "\r\033[K")
		l.shown = false
	}
}
