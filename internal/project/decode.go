package project

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a settings problem at a place in the file.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
}

type decoder struct{ file string }

func (d *decoder) errf(n *yaml.Node, field, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
var paramRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func decode(file string, data []byte) (*Settings, error) {
	d := &decoder{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 messages already carry "line N:".
		return nil, &Error{File: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	s := &Settings{WorkDir: ".fpgactl"}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "file is empty; at least one entry under designs: is needed (see docs/settings.md)"}
	}
	root := doc.Content[0]
	err := d.mapping(root, "", map[string]func(*yaml.Node, string) error{
		"work_dir": func(n *yaml.Node, f string) (err error) { s.WorkDir, err = d.path(n, f); return },
		"designs": func(n *yaml.Node, f string) error {
			return d.seq(n, f, func(item *yaml.Node, f string) error {
				ds, err := d.design(item, f)
				if err == nil {
					s.Designs = append(s.Designs, ds)
				}
				return err
			})
		},
		"targets": func(n *yaml.Node, f string) error {
			return d.seq(n, f, func(item *yaml.Node, f string) error {
				t, err := d.target(item, f)
				if err == nil {
					s.Targets = append(s.Targets, t)
				}
				return err
			})
		},
		"runners": func(n *yaml.Node, f string) (err error) { s.Runners, err = d.runners(n, f); return },
		"lab": func(n *yaml.Node, f string) error {
			return d.mapping(n, f, map[string]func(*yaml.Node, string) error{
				"url": func(n *yaml.Node, f string) error {
					v, err := d.str(n, f)
					if err != nil {
						return err
					}
					u, perr := url.Parse(v)
					if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
						return d.errf(n, f, "%q is not an http(s) URL (example: http://lab.example.net:8470)", v)
					}
					s.Lab.URL = v
					return nil
				},
			})
		},
		"store": func(n *yaml.Node, f string) error {
			return d.mapping(n, f, map[string]func(*yaml.Node, string) error{
				"path": func(n *yaml.Node, f string) (err error) { s.Store.Path, err = d.path(n, f); return },
			})
		},
	})
	if err != nil {
		return nil, err
	}
	if s.Store.Path == "" {
		s.Store.Path = strings.TrimSuffix(s.WorkDir, "/") + "/store"
	}
	if len(s.Designs) == 0 {
		return nil, d.errf(root, "designs", "at least one design is needed (see docs/settings.md)")
	}
	// Cross-checks that need the whole file.
	names := map[string]bool{}
	for i, ds := range s.Designs {
		if names[ds.Name] {
			return nil, &Error{File: file, Line: ds.Line, Field: fmt.Sprintf("designs[%d].name", i), Msg: fmt.Sprintf("design %q is defined twice; names must be unique", ds.Name)}
		}
		names[ds.Name] = true
	}
	tnames := map[string]bool{}
	for i, t := range s.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		if tnames[t.Name] {
			return nil, &Error{File: file, Line: t.Line, Field: f + ".name", Msg: fmt.Sprintf("target %q is defined twice; names must be unique", t.Name)}
		}
		tnames[t.Name] = true
		if t.Design == "" {
			if len(s.Designs) != 1 {
				return nil, &Error{File: file, Line: t.Line, Field: f + ".design", Msg: "required when more than one design is defined"}
			}
			s.Targets[i].Design = s.Designs[0].Name
			t.Design = s.Designs[0].Name
		}
		ds, ok := s.Design(t.Design)
		if !ok {
			return nil, &Error{File: file, Line: t.Line, Field: f + ".design", Msg: fmt.Sprintf("no design named %q (defined: %s)", t.Design, strings.Join(designNames(s), ", "))}
		}
		if !slices.Contains(ds.Widths, t.Width) {
			return nil, &Error{File: file, Line: t.Line, Field: f + ".width", Msg: fmt.Sprintf("design %q is not built at width %d (its widths: %s)", ds.Name, t.Width, joinInts(ds.Widths))}
		}
	}
	return s, nil
}

func designNames(s *Settings) []string {
	var n []string
	for _, d := range s.Designs {
		n = append(n, d.Name)
	}
	return n
}

func field(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// mapping walks a mapping node, calling the handler of each key; unknown and
// duplicate keys are errors that list the allowed keys.
func (d *decoder) mapping(n *yaml.Node, f string, handlers map[string]func(*yaml.Node, string) error) error {
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil
		}
		return d.errf(n, f, "expected a mapping (key: value lines), found %s", kindName(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		if !ok {
			allowed := make([]string, 0, len(handlers))
			for key := range handlers {
				allowed = append(allowed, key)
			}
			slices.Sort(allowed)
			return d.errf(k, field(f, k.Value), "unknown key (allowed here: %s)", strings.Join(allowed, ", "))
		}
		if seen[k.Value] {
			return d.errf(k, field(f, k.Value), "key given twice")
		}
		seen[k.Value] = true
		if err := h(v, field(f, k.Value)); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) seq(n *yaml.Node, f string, each func(*yaml.Node, string) error) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return d.errf(n, f, "expected a list, found %s", kindName(n))
	}
	for i, item := range n.Content {
		if err := each(item, fmt.Sprintf("%s[%d]", f, i)); err != nil {
			return err
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
}

func (d *decoder) str(n *yaml.Node, f string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", d.errf(n, f, "expected a string, found %s", kindName(n))
	}
	if strings.TrimSpace(n.Value) == "" {
		return "", d.errf(n, f, "must not be empty")
	}
	return n.Value, nil
}

func (d *decoder) path(n *yaml.Node, f string) (string, error) {
	v, err := d.str(n, f)
	if err != nil {
		return "", err
	}
	if strings.ContainsRune(v, 0) {
		return "", d.errf(n, f, "path contains a NUL byte")
	}
	return v, nil
}

func (d *decoder) ident(n *yaml.Node, f string) (string, error) {
	v, err := d.str(n, f)
	if err != nil {
		return "", err
	}
	if !identRe.MatchString(v) {
		return "", d.errf(n, f, "%q is not a valid name (letters, digits, _ . -; starting with a letter or _)", v)
	}
	return v, nil
}

func (d *decoder) integer(n *yaml.Node, f string) (int, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, d.errf(n, f, "expected an integer, found %s", kindName(n))
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v > math.MaxInt32 || v < math.MinInt32 {
		return 0, d.errf(n, f, "%q is not an integer in 32-bit range", n.Value)
	}
	return int(v), nil
}

func (d *decoder) strList(n *yaml.Node, f string) ([]string, error) {
	// A single string is accepted as a one-element list.
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		v, err := d.path(n, f)
		return []string{v}, err
	}
	var out []string
	err := d.seq(n, f, func(item *yaml.Node, f string) error {
		v, err := d.path(item, f)
		out = append(out, v)
		return err
	})
	return out, err
}

func (d *decoder) design(n *yaml.Node, f string) (Design, error) {
	ds := Design{Line: n.Line, Parameters: map[string]int{}}
	err := d.mapping(n, f, map[string]func(*yaml.Node, string) error{
		"name":        func(n *yaml.Node, f string) (err error) { ds.Name, err = d.ident(n, f); return },
		"top":         func(n *yaml.Node, f string) (err error) { ds.Top, err = d.ident(n, f); return },
		"rtl":         func(n *yaml.Node, f string) (err error) { ds.RTL, err = d.strList(n, f); return },
		"testbenches": func(n *yaml.Node, f string) (err error) { ds.Testbenches, err = d.strList(n, f); return },
		"include":     func(n *yaml.Node, f string) (err error) { ds.Include, err = d.strList(n, f); return },
		"unit_flags":  func(n *yaml.Node, f string) (err error) { ds.UnitFlags, err = d.strList(n, f); return },
		"widths": func(n *yaml.Node, f string) error {
			return d.seq(n, f, func(item *yaml.Node, f string) error {
				w, err := d.integer(item, f)
				if err != nil {
					return err
				}
				if !slices.Contains(SupportedWidths, w) {
					return d.errf(item, f, "width %d is not supported (use %s)", w, joinInts(SupportedWidths))
				}
				if slices.Contains(ds.Widths, w) {
					return d.errf(item, f, "width %d listed twice", w)
				}
				ds.Widths = append(ds.Widths, w)
				return nil
			})
		},
		"parameters": func(n *yaml.Node, f string) error {
			if n.Kind != yaml.MappingNode {
				return d.errf(n, f, "expected a mapping of NAME: integer, found %s", kindName(n))
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				kf := field(f, k.Value)
				if !paramRe.MatchString(k.Value) {
					return d.errf(k, kf, "%q is not a valid SystemVerilog parameter name", k.Value)
				}
				if k.Value == "DATA_WIDTH" {
					return d.errf(k, kf, "DATA_WIDTH is set by widths:, not parameters:")
				}
				if _, dup := ds.Parameters[k.Value]; dup {
					return d.errf(k, kf, "parameter given twice")
				}
				x, err := d.integer(v, kf)
				if err != nil {
					return err
				}
				if x <= 0 {
					return d.errf(v, kf, "must be a positive integer, got %d", x)
				}
				ds.Parameters[k.Value] = x
			}
			return nil
		},
	})
	if err != nil {
		return ds, err
	}
	switch {
	case ds.Name == "":
		return ds, d.errf(n, f+".name", "required (a short name for the design, e.g. pf_filter)")
	case ds.Top == "":
		return ds, d.errf(n, f+".top", "required (the top-level module name)")
	case len(ds.RTL) == 0:
		return ds, d.errf(n, f+".rtl", "required (glob patterns of RTL sources, e.g. hdl/rtl/*.sv)")
	case len(ds.Widths) == 0:
		return ds, d.errf(n, f+".widths", "required (a list of data widths; supported: %s)", joinInts(SupportedWidths))
	}
	return ds, nil
}

func (d *decoder) target(n *yaml.Node, f string) (Target, error) {
	t := Target{Line: n.Line}
	err := d.mapping(n, f, map[string]func(*yaml.Node, string) error{
		"name":   func(n *yaml.Node, f string) (err error) { t.Name, err = d.ident(n, f); return },
		"design": func(n *yaml.Node, f string) (err error) { t.Design, err = d.ident(n, f); return },
		"flow": func(n *yaml.Node, f string) error {
			v, err := d.str(n, f)
			if err != nil {
				return err
			}
			if !slices.Contains(SupportedFlows, v) {
				return d.errf(n, f, "unknown flow %q (use one of: %s)", v, strings.Join(SupportedFlows, ", "))
			}
			t.Flow = v
			return nil
		},
		"device": func(n *yaml.Node, f string) (err error) { t.Device, err = d.str(n, f); return },
		"clock_mhz": func(n *yaml.Node, f string) error {
			if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
				return d.errf(n, f, "expected a number of MHz, found %s", kindName(n))
			}
			v, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || v <= 0 || v > 2000 || math.IsNaN(v) {
				return d.errf(n, f, "%q is not a clock frequency in MHz (0 < f <= 2000)", n.Value)
			}
			t.ClockMHz = v
			return nil
		},
		"width": func(n *yaml.Node, f string) (err error) { t.Width, err = d.integer(n, f); return },
	})
	if err != nil {
		return t, err
	}
	switch {
	case t.Name == "":
		return t, d.errf(n, f+".name", "required")
	case t.Flow == "":
		return t, d.errf(n, f+".flow", "required (one of: %s)", strings.Join(SupportedFlows, ", "))
	case t.Device == "":
		return t, d.errf(n, f+".device", "required (the part name, e.g. LFE5U-85F-6BG381C)")
	case t.ClockMHz == 0:
		return t, d.errf(n, f+".clock_mhz", "required (target clock in MHz, e.g. 156.25)")
	case t.Width == 0:
		return t, d.errf(n, f+".width", "required (one of the design's widths)")
	}
	return t, nil
}

func (d *decoder) runners(n *yaml.Node, f string) (Runners, error) {
	var r Runners
	jobs := func(dst *int) func(*yaml.Node, string) error {
		return func(n *yaml.Node, f string) error {
			v, err := d.integer(n, f)
			if err != nil {
				return err
			}
			if v < 0 || v > 1024 {
				return d.errf(n, f, "jobs must be between 0 (number of cores) and 1024, got %d", v)
			}
			*dst = v
			return nil
		}
	}
	err := d.mapping(n, f, map[string]func(*yaml.Node, string) error{
		"local": func(n *yaml.Node, f string) error {
			return d.mapping(n, f, map[string]func(*yaml.Node, string) error{"jobs": jobs(&r.Local.Jobs)})
		},
		"ssh": func(n *yaml.Node, f string) error {
			return d.seq(n, f, func(item *yaml.Node, f string) error {
				var h SSHHost
				err := d.mapping(item, f, map[string]func(*yaml.Node, string) error{
					"name":    func(n *yaml.Node, f string) (err error) { h.Name, err = d.ident(n, f); return },
					"address": func(n *yaml.Node, f string) (err error) { h.Address, err = d.str(n, f); return },
					"user":    func(n *yaml.Node, f string) (err error) { h.User, err = d.str(n, f); return },
					"jobs":    jobs(&h.Jobs),
				})
				if err != nil {
					return err
				}
				if h.Address == "" {
					return d.errf(item, f+".address", "required (host or host:port)")
				}
				if h.Name == "" {
					h.Name = h.Address
				}
				r.SSH = append(r.SSH, h)
				return nil
			})
		},
		"openstack": func(n *yaml.Node, f string) error {
			o := &OpenStack{}
			err := d.mapping(n, f, map[string]func(*yaml.Node, string) error{
				"cloud":  func(n *yaml.Node, f string) (err error) { o.Cloud, err = d.str(n, f); return },
				"flavor": func(n *yaml.Node, f string) (err error) { o.Flavor, err = d.str(n, f); return },
				"image":  func(n *yaml.Node, f string) (err error) { o.Image, err = d.str(n, f); return },
			})
			if err != nil {
				return err
			}
			if o.Cloud == "" {
				return d.errf(n, f+".cloud", "required (the cloud's name in clouds.yaml)")
			}
			r.OpenStack = o
			return nil
		},
	})
	return r, err
}
