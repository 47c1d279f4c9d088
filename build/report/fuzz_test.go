package report

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The fuzz targets feed arbitrary bytes to the parsers. Beyond not
// panicking, each result must be usable: a failure is a *FormatError naming
// the file given, and a success encodes as JSON (no NaN or infinity slipped
// through). Seeds: testdata/fuzz/<target>/ plus the fixtures.

func addFixtures(f *testing.F, glob string) {
	paths, err := filepath.Glob(filepath.Join("testdata", glob))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no fixtures match %s", glob)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func checkOutcome(t *testing.T, file string, err error, results ...any) {
	t.Helper()
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("error %v (%T) is not a *FormatError", err, err)
		}
		if fe.File != file || fe.Line < 0 {
			t.Fatalf("error %q names file %q line %d, want file %q", err, fe.File, fe.Line, file)
		}
		return
	}
	for _, r := range results {
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("result does not encode as JSON: %v (%+v)", err, r)
		}
	}
	for _, r := range results {
		if tm, ok := r.(Timing); ok && tm.TNSns == nil && tm.WNSns >= 0 {
			t.Fatalf("WNS %v >= 0 but TNS unknown: no path can have negative slack, so TNS is 0", tm.WNSns)
		}
	}
}

func FuzzNextpnrLog(f *testing.F) {
	addFixtures(f, "nextpnr/*.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, u, err := parseNextpnrLog("f.log", data)
		checkOutcome(t, "f.log", err, tm, u)
	})
}

func FuzzNextpnrReport(f *testing.F) {
	addFixtures(f, "nextpnr/*.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, u, err := parseNextpnrReport("f.json", data)
		checkOutcome(t, "f.json", err, tm, u)
	})
}

func FuzzVivadoTiming(f *testing.F) {
	addFixtures(f, "vivado/timing-*.rpt")
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, err := parseVivadoTiming("f.rpt", data)
		checkOutcome(t, "f.rpt", err, tm)
	})
}

func FuzzVivadoUtilization(f *testing.F) {
	addFixtures(f, "vivado/util-*.rpt")
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := parseVivadoUtilization("f.rpt", data)
		checkOutcome(t, "f.rpt", err, u)
	})
}

func FuzzQuartusTiming(f *testing.F) {
	for _, pair := range [][2]string{
		{"filter10g.sta.summary", "filter10g.sta.rpt"},
		{"filter10g-fail.sta.summary", "filter10g-fail.sta.rpt"},
		{"malformed.sta.summary", "filter10g.sta.rpt"},
	} {
		sum, err1 := os.ReadFile(filepath.Join("testdata", "quartus", pair[0]))
		rpt, err2 := os.ReadFile(filepath.Join("testdata", "quartus", pair[1]))
		if err1 != nil || err2 != nil {
			f.Fatal(err1, err2)
		}
		f.Add(sum, rpt)
	}
	f.Fuzz(func(t *testing.T, sum, rpt []byte) {
		tm, err := parseQuartusTiming("f.sta.summary", sum, "f.sta.rpt", rpt)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || (fe.File != "f.sta.summary" && fe.File != "f.sta.rpt") {
				t.Fatalf("error %v does not name one of the two files", err)
			}
			return
		}
		checkOutcome(t, "", nil, tm)
	})
}

func FuzzQuartusUtilization(f *testing.F) {
	addFixtures(f, "quartus/*.fit.summary")
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := parseQuartusUtilization("f.fit.summary", data)
		checkOutcome(t, "f.fit.summary", err, u)
	})
}
