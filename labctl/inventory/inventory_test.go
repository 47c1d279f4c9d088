package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const good = `# the lab
boards:
  - name: b10g-1
    part: LFE5U-85F-6BG381C
    speed: 10G
    lab_host: lab1
    ssh_address: 10.77.1.2:22
    ssh_user: root
    iface_in: b0
    iface_out: b1
    control: /run/fpgactl/b10g-1.sock
    program: "fpgactl board program --board b10g-1 --bitstream {bitstream}"
    tags: [10G, ecp5]
  - name: b100g-1
    part: XCVU9P
    speed: 100G
    lab_host: lab2
    ssh_address: "[fd00::2]:2222"
    iface_in: enp1s0f0
    iface_out: enp1s0f1
    control: /run/fpgactl/b100g-1.sock
    program: "vivado -mode batch -source prog.tcl -tclargs {bitstream}"
`

func TestParseGood(t *testing.T) {
	inv, err := Parse("boards.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []Board{
		{Name: "b10g-1", Part: "LFE5U-85F-6BG381C", Speed: "10G", LabHost: "lab1", SSHAddress: "10.77.1.2:22", SSHUser: "root",
			IfaceIn: "b0", IfaceOut: "b1", Control: "/run/fpgactl/b10g-1.sock",
			Program: "fpgactl board program --board b10g-1 --bitstream {bitstream}", Tags: []string{"10G", "ecp5"}, Line: 3},
		{Name: "b100g-1", Part: "XCVU9P", Speed: "100G", LabHost: "lab2", SSHAddress: "[fd00::2]:2222",
			IfaceIn: "enp1s0f0", IfaceOut: "enp1s0f1", Control: "/run/fpgactl/b100g-1.sock",
			Program: "vivado -mode batch -source prog.tcl -tclargs {bitstream}", Tags: []string{}, Line: 14},
	}
	if !reflect.DeepEqual(inv.Boards, want) {
		t.Errorf("got %+v\nwant %+v", inv.Boards, want)
	}
	if b, ok := inv.Board("b100g-1"); !ok || b.Speed != "100G" {
		t.Error("Board lookup")
	}
	if got := inv.Tags(); !slices.Equal(got, []string{"10G", "ecp5"}) {
		t.Errorf("tags %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	board := func(replace, with string) string { return strings.Replace(good, replace, with, 1) }
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "boards.yaml: file is empty"},
		{"not yaml", "boards: [", "boards.yaml: not valid YAML"},
		{"no boards", "boards: []\n", "boards.yaml:1: boards: no boards"},
		{"unknown top key", "board: []\n", "boards.yaml:1: board: unknown key (allowed here: boards)"},
		{"unknown board key", board("    part: XCVU9P", "    part: XCVU9P\n    fpga: x"), "boards.yaml:16: boards[1].fpga: unknown key"},
		{"bad speed", board("speed: 100G", "speed: 40G"), "boards.yaml:16: boards[1].speed: \"40G\" is not a speed (use 10G or 100G)"},
		{"duplicate name", board("name: b100g-1", "name: b10g-1"), "boards.yaml:14: boards[1].name: board \"b10g-1\" is already defined at line 3"},
		{"missing field", board("    lab_host: lab2\n", ""), "boards.yaml:14: boards[1].lab_host: missing"},
		{"program without placeholder", board("-tclargs {bitstream}", "-tclargs x.bit"), "boards.yaml:22: boards[1].program: the command must contain {bitstream}"},
		{"bad address", board(`"[fd00::2]:2222"`, "lab2"), "boards.yaml:18: boards[1].ssh_address: \"lab2\" is not HOST:PORT"},
		{"bad port", board(`"[fd00::2]:2222"`, "lab2:99999"), "boards.yaml:18: boards[1].ssh_address: port \"99999\""},
		{"bad name", board("name: b100g-1", "name: b 1"), "boards.yaml:14: boards[1].name: \"b 1\" is not a valid board name"},
		{"dup key", board("    speed: 100G", "    speed: 100G\n    speed: 10G"), "boards.yaml:17: boards[1].speed: key given twice (first at line 16)"},
		{"dup tag", board("tags: [10G, ecp5]", "tags: [10G, 10G]"), "boards.yaml:13: boards[0].tags[1]: tag \"10G\" is given twice"},
		{"tag list", board("tags: [10G, ecp5]", "tags: 10G"), "boards.yaml:13: boards[0].tags: expected a list"},
		{"same iface", board("iface_out: enp1s0f1", "iface_out: enp1s0f0"), "boards.yaml:14: boards[1].iface_out: is the same interface as iface_in"},
		{"long iface", board("iface_out: enp1s0f1", "iface_out: a234567890123456"), "boards.yaml:20: boards[1].iface_out: \"a234567890123456\" is not a valid network interface name"},
		{"board not mapping", "boards:\n  - b10g-1\n", "boards.yaml:2: boards[0]: expected a mapping"},
		{"null value", board("    part: XCVU9P", "    part:"), "boards.yaml:15: boards[1].part: expected a string, found nothing"},
	} {
		_, err := Parse("boards.yaml", []byte(tc.data))
		var ie *Error
		if err == nil || !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v\nwant prefix %q", tc.name, err, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "boards.yaml")
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "board inventory") {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(p, []byte(strings.Replace(good, "10G\n", "1G\n", 1)), 0o644)
	if _, err := Load(p); err == nil || !strings.HasPrefix(err.Error(), p+":5: boards[0].speed") {
		t.Errorf("error does not name the file and line: %v", err)
	}
}

var locRe = regexp.MustCompile(`^f\.yaml(:[1-9][0-9]*)?: `)

// FuzzParseInventory: any input gives either an *Error naming the file (and
// a line when there is one), or an inventory that satisfies every rule and
// reads back identically when written as YAML.
func FuzzParseInventory(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("boards:\n  - {name: a, part: p, speed: 10G, lab_host: h, ssh_address: 'h:1', iface_in: a, iface_out: b, control: c, program: '{bitstream}'}\n"))
	f.Add([]byte("boards: [{name: a}]"))
	f.Add([]byte("boards: &x [*x]"))
	f.Add([]byte("boards:\n  - <<: {name: a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse("f.yaml", data)
		if err != nil {
			var ie *Error
			if !errors.As(err, &ie) || !locRe.MatchString(err.Error()) {
				t.Fatalf("error %q is not an *Error starting with f.yaml[:line]", err)
			}
			return
		}
		names := map[string]bool{}
		for _, b := range inv.Boards {
			if names[b.Name] {
				t.Fatalf("duplicate name %q accepted", b.Name)
			}
			names[b.Name] = true
			if !slices.Contains(Speeds, b.Speed) || !strings.Contains(b.Program, BitstreamPlaceholder) || b.Name == "" ||
				b.Part == "" || b.LabHost == "" || b.Control == "" || b.IfaceIn == b.IfaceOut || b.Tags == nil || b.Line < 1 {
				t.Fatalf("invalid board accepted: %+v", b)
			}
		}
		out, err := yaml.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse("f.yaml", out)
		if err != nil {
			t.Fatalf("re-encoded inventory does not parse: %v\n%s", err, out)
		}
		for i := range inv.Boards {
			inv.Boards[i].Line, again.Boards[i].Line = 0, 0
		}
		if !reflect.DeepEqual(inv.Boards, again.Boards) {
			t.Fatalf("re-encoded inventory differs:\n%+v\n%+v", inv.Boards, again.Boards)
		}
	})
}
