package rulescmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
)

const sample = `default: drop
malformed: pass
rules:
  - name: ntp-reflection
    action: drop
    src: 192.0.2.0/24
    proto: udp
    src_port: 123
  - name: syn-police
    action: police
    dst: 2001:db8::/32
    proto: tcp
    tcp_flags: syn,!ack
    rate: 10kpps
    burst: 64
`

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := NewCmdRules()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

func TestCompileText(t *testing.T) {
	out, err := run(t, "compile", writeFile(t, "r.yaml", sample))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ntp-reflection", "192.0.2.0/24", "2001:db8::/32", "syn,!ack", "10kpps (42950)", "64 pkt",
		"2 of 64 rule slots used", "default drop", "malformed pass", "1602 register writes"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCompileHex(t *testing.T) {
	out, err := run(t, "compile", "--rules-max", "4", "--output", "hex", writeFile(t, "r.yaml", sample))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4*25+2 {
		t.Fatalf("%d lines, want %d", len(lines), 4*25+2)
	}
	// Rule 0 CTRL: valid | drop<<1 | ipv4<<3 | proto_valid<<9 = 0x20b (SPEC §6).
	want := map[int]string{
		0:   "00010000 0000020b",
		1:   "00010004 00000011", // proto 17
		3:   "0001000c 007b007b", // sport 123-123
		9:   "00010024 c0000200", // src 192.0.2.0
		13:  "00010034 ffffff00", // /24
		25:  "00010080 00000215", // rule 1: valid | police<<1 | ipv6<<3 | proto_valid<<9
		26:  "00010084 02120006", // tcp, flags mask 0x12 value 0x02
		31:  "00010098 0000a7c6", // rule 1 word 6 (0x10080 + 24): rate 42950
		50:  "00010100 00000000", // slot 2 (0x10000 + 2·0x80) unused
		100: "00000010 00000003", // CONTROL
		101: "00000014 00000001", // SWAP
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d = %q, want %q", i, lines[i], w)
		}
	}
}

func TestCompileJSON(t *testing.T) {
	out, err := run(t, "compile", "-o", "json", writeFile(t, "r.yaml", sample))
	if err != nil {
		t.Fatal(err)
	}
	var c Compiled
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(c.Rules) != 2 || c.Rules[1].Entry.Rate != 42950 || c.Rules[1].Line != 9 || c.Rules[0].Entry.SrcAddr != "000000000000000000000000c0000200" ||
		len(c.RegisterWrites) != 64*25+2 || c.Control != 3 || len(c.Rules[0].Words) != 25 {
		t.Errorf("unexpected JSON: %+v", c)
	}
}

func TestCheck(t *testing.T) {
	out, err := run(t, "check", writeFile(t, "r.yaml", sample))
	if err != nil || !strings.Contains(out, "ok, 2 rules") {
		t.Errorf("check = %q, %v", out, err)
	}
}

func TestErrors(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "rules:\n  - name: a\n    action: drop\n    proto: udp\n    src_port: 70000\n")
	tests := []struct {
		name     string
		args     []string
		flagErr  bool
		contains string
	}{
		{"bad file check", []string{"check", bad}, false, `bad.yaml:5:15: rules[0].src_port: "70000" is not a port`},
		{"bad file compile", []string{"compile", bad}, false, `bad.yaml:5:15: rules[0].src_port`},
		{"too many rules", []string{"check", "--rules-max", "1", writeFile(t, "r.yaml", sample)}, false, "2 rules do not fit in a table of 1"},
		{"missing file", []string{"check", filepath.Join(t.TempDir(), "nope.yaml")}, false, "cannot read rules file"},
		{"bad output", []string{"compile", "-o", "xml", bad}, true, "--output must be text, json or hex"},
		{"no file", []string{"compile"}, true, "exactly one rules file"},
		{"two files", []string{"check", bad, bad}, true, "exactly one rules file"},
		{"zero slots", []string{"check", "--rules-max", "0", bad}, true, "--rules-max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			var fe *cmdutil.FlagError
			if errors.As(err, &fe) != tt.flagErr || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("got %v (flag error %v); want %q, flag error %v", err, errors.As(err, &fe), tt.contains, tt.flagErr)
			}
		})
	}
}

func TestEveryCommandHasExample(t *testing.T) {
	root := NewCmdRules()
	for _, c := range append(root.Commands(), root) {
		if c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
	}
}

func TestPrefixText(t *testing.T) {
	nonContig := [16]byte{12: 0xFF, 13: 0x00, 14: 0xFF}
	if got := prefixText(1, [16]byte{}, nonContig); !strings.Contains(got, "&") {
		t.Errorf("non-contiguous mask shown as %q", got)
	}
	if got := prefixText(1, [16]byte{12: 10}, [16]byte{12: 0xFE}); got != "10.0.0.0/7" {
		t.Errorf("got %q, want 10.0.0.0/7", got)
	}
}
