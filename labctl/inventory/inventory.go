// Package inventory reads the lab's board inventory file (docs/lab-api.md,
// "Inventory file"): a YAML list of boards, decoded strictly so that every
// problem is reported as file:line: field: what is wrong.
package inventory

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fpgactl/fpgactl/internal/yamlnode"
)

// Speeds a board may have.
var Speeds = []string{"10G", "100G"}

// BitstreamPlaceholder must appear in every board's program command; it is
// replaced by the bitstream's path on the lab host.
const BitstreamPlaceholder = "{bitstream}"

// Board is one lab board as the inventory file describes it.
type Board struct {
	Name       string   `yaml:"name"`
	Part       string   `yaml:"part"`
	Speed      string   `yaml:"speed"`
	LabHost    string   `yaml:"lab_host"`
	SSHAddress string   `yaml:"ssh_address"`
	SSHUser    string   `yaml:"ssh_user,omitempty"`
	IfaceIn    string   `yaml:"iface_in"`
	IfaceOut   string   `yaml:"iface_out"`
	Control    string   `yaml:"control"`
	Program    string   `yaml:"program"`
	Tags       []string `yaml:"tags,omitempty"`
	// Line is where the board's entry starts in the file.
	Line int `yaml:"-"`
}

// HasTag reports whether the board carries tag.
func (b Board) HasTag(tag string) bool { return slices.Contains(b.Tags, tag) }

// Inventory is the whole file.
type Inventory struct {
	File   string  `yaml:"-"`
	Boards []Board `yaml:"boards"`
}

// Board returns the board named name.
func (inv *Inventory) Board(name string) (Board, bool) {
	if inv == nil {
		return Board{}, false
	}
	i := slices.IndexFunc(inv.Boards, func(b Board) bool { return b.Name == name })
	if i < 0 {
		return Board{}, false
	}
	return inv.Boards[i], true
}

// Names returns the board names in file order.
func (inv *Inventory) Names() []string {
	out := make([]string, len(inv.Boards))
	for i, b := range inv.Boards {
		out[i] = b.Name
	}
	return out
}

// Tags returns every tag of every board, sorted, once each.
func (inv *Inventory) Tags() []string {
	var out []string
	for _, b := range inv.Boards {
		out = append(out, b.Tags...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Error is a problem at a place in the inventory file.
type Error = yamlnode.Error

// Load reads and checks the inventory file at path.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("board inventory: %w", err)
	}
	return Parse(path, data)
}

// nameRe is what board names and tags look like: they appear in URLs,
// command lines and file names.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ifaceRe is a Linux interface name (IFNAMSIZ 16, so at most 15 characters).
var ifaceRe = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)

// Parse decodes and checks an inventory file's contents; file is how errors name it.
func Parse(file string, data []byte) (*Inventory, error) {
	d := &yamlnode.Decoder{File: file, TrimSpace: true}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "file is empty; it needs a boards: list (see docs/lab-api.md, Inventory file)"}
	}
	inv := &Inventory{File: file}
	root := doc.Content[0]
	seenBoards := false
	err := d.Mapping(root, "", map[string]func(*yaml.Node, string) error{
		"boards": func(n *yaml.Node, f string) error {
			seenBoards = true
			names := map[string]int{}
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				b, err := board(d, item, f)
				if err != nil {
					return err
				}
				if first, dup := names[b.Name]; dup {
					return d.Errorf(item, f+".name", "board %q is already defined at line %d; names must be unique", b.Name, first)
				}
				names[b.Name] = b.Line
				inv.Boards = append(inv.Boards, b)
				return nil
			})
		},
	})
	if err != nil {
		return nil, err
	}
	if !seenBoards || len(inv.Boards) == 0 {
		return nil, d.Errorf(root, "boards", "no boards: list at least one board under boards:")
	}
	return inv, nil
}

func board(d *yamlnode.Decoder, n *yaml.Node, field string) (Board, error) {
	b := Board{Line: n.Line}
	str := func(dst *string, check func(*yaml.Node, string, string) error) func(*yaml.Node, string) error {
		return func(n *yaml.Node, f string) error {
			v, err := d.Str(n, f)
			if err != nil {
				return err
			}
			if strings.ContainsAny(v, "\x00\n\r") {
				return d.Errorf(n, f, "must be one line without NUL bytes")
			}
			if check != nil {
				if err := check(n, f, v); err != nil {
					return err
				}
			}
			*dst = v
			return nil
		}
	}
	match := func(re *regexp.Regexp, what string) func(*yaml.Node, string, string) error {
		return func(n *yaml.Node, f, v string) error {
			if !re.MatchString(v) {
				return d.Errorf(n, f, "%q is not a valid %s", v, what)
			}
			return nil
		}
	}
	required := []string{"name", "part", "speed", "lab_host", "ssh_address", "iface_in", "iface_out", "control", "program"}
	err := d.Mapping(n, field, map[string]func(*yaml.Node, string) error{
		"name": str(&b.Name, match(nameRe, "board name (letters, digits, '.', '_', '-'; at most 64, starting with a letter or digit)")),
		"part": str(&b.Part, nil),
		"speed": str(&b.Speed, func(n *yaml.Node, f, v string) error {
			if !slices.Contains(Speeds, v) {
				return d.Errorf(n, f, "%q is not a speed (use 10G or 100G)", v)
			}
			return nil
		}),
		"lab_host": str(&b.LabHost, nil),
		"ssh_address": str(&b.SSHAddress, func(n *yaml.Node, f, v string) error {
			host, port, err := net.SplitHostPort(v)
			if err != nil || host == "" {
				return d.Errorf(n, f, "%q is not HOST:PORT (example: 10.77.1.2:22)", v)
			}
			if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				return d.Errorf(n, f, "port %q is not 1..65535", port)
			}
			return nil
		}),
		"ssh_user":  str(&b.SSHUser, nil),
		"iface_in":  str(&b.IfaceIn, match(ifaceRe, "network interface name (at most 15 characters)")),
		"iface_out": str(&b.IfaceOut, match(ifaceRe, "network interface name (at most 15 characters)")),
		"control":   str(&b.Control, nil),
		"program": str(&b.Program, func(n *yaml.Node, f, v string) error {
			if !strings.Contains(v, BitstreamPlaceholder) {
				return d.Errorf(n, f, "the command must contain %s where the bitstream's path goes", BitstreamPlaceholder)
			}
			return nil
		}),
		"tags": func(n *yaml.Node, f string) error {
			b.Tags = []string{}
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				v, err := d.Str(item, f)
				if err != nil {
					return err
				}
				if !nameRe.MatchString(v) {
					return d.Errorf(item, f, "%q is not a valid tag (letters, digits, '.', '_', '-'; at most 64)", v)
				}
				if slices.Contains(b.Tags, v) {
					return d.Errorf(item, f, "tag %q is given twice", v)
				}
				b.Tags = append(b.Tags, v)
				return nil
			})
		},
	})
	if err != nil {
		return b, err
	}
	given := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		given[n.Content[i].Value] = true
	}
	for _, k := range required {
		if !given[k] {
			return b, d.Errorf(n, yamlnode.Field(field, k), "missing; every board needs %s", strings.Join(required, ", "))
		}
	}
	if b.IfaceIn == b.IfaceOut {
		return b, d.Errorf(n, yamlnode.Field(field, "iface_out"), "is the same interface as iface_in (%q)", b.IfaceIn)
	}
	if b.Tags == nil {
		b.Tags = []string{}
	}
	return b, nil
}
