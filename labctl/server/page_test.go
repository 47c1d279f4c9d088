package server

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/labctl/api"
)

const chromium = "/usr/bin/chromium"

// dumpDOM renders url in headless Chromium and returns the DOM after load.
func dumpDOM(t *testing.T, url string) string {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing (%v): run scripts/install-deps.sh (as root) to install chromium; this test needs a real browser", chromium, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--dump-dom", url)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", url, err, stderr.String())
	}
	return string(out)
}

var tagRe = regexp.MustCompile(`<[^>]*>`)

// rowText is the visible text of the table row with id, cells separated by " | ".
func rowText(t *testing.T, dom, id string) string {
	t.Helper()
	i := strings.Index(dom, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("the page has no element %q", id)
	}
	row := dom[i:]
	row = row[:strings.Index(row, "</tr>")]
	row = strings.ReplaceAll(row, "</td>", " | ")
	return strings.Join(strings.Fields(tagRe.ReplaceAllString(row[strings.Index(row, ">")+1:], "")), " ")
}

func TestWebPageInChromium(t *testing.T) {
	l := newLab(t, "ana", "bo", "cy")
	ctx := context.Background()
	a, err := l.client("ana").Reserve(ctx, api.ReserveRequest{Board: "b100g-1", Comment: "timing closure <check> & seed 3", TTLSeconds: api.TTL(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"bo", "cy"} {
		if _, err := l.client(u).Reserve(ctx, api.ReserveRequest{Board: "b100g-1", Wait: true, Comment: u + " waits"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.client("ana").PostResult(ctx, "b100g-1", api.Result{Reservation: a.ID, Passed: true, Frames: 3000,
		Summary: "3000/3000 frames, PASSED", BitstreamSHA256: strings.Repeat("ab", 32)}); err != nil {
		t.Fatal(err)
	}

	dom := dumpDOM(t, l.hs.URL+"/")
	if !strings.Contains(dom, `http-equiv="refresh"`) {
		t.Error("no auto-refresh meta tag")
	}
	for _, b := range boardNames {
		if !strings.Contains(dom, `id="board-`+b+`"`) {
			t.Errorf("board %s is not on the page", b)
		}
	}
	row := rowText(t, dom, "board-b100g-1")
	t.Logf("b100g-1 row: %s", row)
	expires := a.ExpiresAt.UTC().Format("2006-01-02 15:04:05Z")
	for _, want := range []string{"b100g-1 |", "XCVU9P-L2FLGA2104E", "100G |", "lab2", "100G, ultrascale", "ana (#1)",
		"timing closure &lt;check&gt; &amp; seed 3", expires, "| 2 |", "PASSED: 3000/3000 frames, PASSED", "3000 frames, 0 mismatches"} {
		if !strings.Contains(row, want) {
			t.Errorf("the b100g-1 row lacks %q:\n%s", want, row)
		}
	}
	free := rowText(t, dom, "board-b10g-2")
	if !strings.Contains(free, "free") || !strings.Contains(free, "| 0 |") || !strings.Contains(free, "none yet") {
		t.Errorf("free board row: %s", free)
	}
	// Queue and recent events.
	if q := dom[strings.Index(dom, `id="queue"`):]; !strings.Contains(q, "bo waits") || !strings.Contains(q, "cy waits") {
		t.Errorf("queue table lacks the waiters")
	}
	if ev := dom[strings.Index(dom, `id="audit"`):]; !strings.Contains(ev, "result") || !strings.Contains(ev, "queue") || !strings.Contains(ev, "grant") {
		t.Errorf("recent events lack result/queue/grant")
	}
	// No script needed or present.
	if strings.Contains(dom, "<script") {
		t.Error("the page has a script")
	}
}
