package junit

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEncodeCountsAndRoundTrip(t *testing.T) {
	s := &Suites{Name: "unit", Suites: []Suite{{
		Name: "a_tb",
		Cases: []Case{
			{Name: "w64", Classname: "a_tb", Time: 1.5},
			{Name: "w512", Classname: "a_tb", Time: 2, Failure: &Problem{Message: "exit 1", Text: "ERROR <x> & y"}, SystemOut: "wave: /tmp/w.fst"},
			{Name: "w8", Classname: "a_tb", Skipped: &Problem{Message: "stopped"}},
		},
	}}}
	path := filepath.Join(t.TempDir(), "r", "unit.xml")
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("<?xml")) {
		t.Errorf("no XML header: %s", data)
	}
	var back Suites
	if err := xml.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Tests != 3 || back.Failures != 1 || back.Skipped != 1 || back.Suites[0].Time != 3.5 {
		t.Errorf("counts: %+v", back)
	}
	if f := back.Suites[0].Cases[1].Failure; f == nil || f.Text != "ERROR <x> & y" {
		t.Errorf("failure text lost: %+v", f)
	}
	if !strings.Contains(string(data), "<system-out>wave: /tmp/w.fst</system-out>") {
		t.Errorf("system-out missing:\n%s", data)
	}
}

func TestClean(t *testing.T) {
	if got := Clean("a\x00b\x1bc\n"); got != "abc\n" {
		t.Errorf("Clean = %q", got)
	}
}
