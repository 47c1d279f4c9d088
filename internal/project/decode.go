package project

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/internal/yamlnode"
)

// Error is a settings problem at a place in the file.
type Error = yamlnode.Error

// decoder is yamlnode's, plus the checks only settings files have. A key
// with nothing after it (`lab:`) is an empty mapping or list, and strings are
// taken as written.
type decoder struct{ yamlnode.Decoder }

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
var paramRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func decode(file string, data []byte) (*Settings, error) {
	d := &decoder{yamlnode.Decoder{File: file, NullIsEmpty: true}}
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
	err := d.Mapping(root, "", map[string]func(*yaml.Node, string) error{
		"work_dir": func(n *yaml.Node, f string) (err error) { s.WorkDir, err = d.Path(n, f); return },
		"designs": func(n *yaml.Node, f string) error {
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				ds, err := d.design(item, f)
				if err == nil {
					s.Designs = append(s.Designs, ds)
				}
				return err
			})
		},
		"targets": func(n *yaml.Node, f string) error {
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				t, err := d.target(item, f)
				if err == nil {
					s.Targets = append(s.Targets, t)
				}
				return err
			})
		},
		"runners": func(n *yaml.Node, f string) (err error) { s.Runners, err = d.runners(n, f); return },
		"lab": func(n *yaml.Node, f string) error {
			return d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
				"url": func(n *yaml.Node, f string) error {
					v, err := d.Str(n, f)
					if err != nil {
						return err
					}
					u, perr := url.Parse(v)
					if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
						return d.Errorf(n, f, "%q is not an http(s) URL (example: http://lab.example.net:8470)", v)
					}
					s.Lab.URL = v
					return nil
				},
			})
		},
		"store": func(n *yaml.Node, f string) error {
			return d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
				"path": func(n *yaml.Node, f string) (err error) { s.Store.Path, err = d.Path(n, f); return },
				"swift": func(n *yaml.Node, f string) error {
					sw := &Swift{}
					err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
						"cloud":     func(n *yaml.Node, f string) (err error) { sw.Cloud, err = d.Str(n, f); return },
						"container": func(n *yaml.Node, f string) (err error) { sw.Container, err = d.ident(n, f); return },
					})
					if err == nil && sw.Container == "" {
						err = d.Errorf(n, f+".container", "required: the Swift container that holds releases")
					}
					s.Store.Swift = sw
					return err
				},
			})
		},
		"release": func(n *yaml.Node, f string) error {
			return d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
				"signing_key":   func(n *yaml.Node, f string) (err error) { s.Release.SigningKey, err = d.Path(n, f); return },
				"public_key":    func(n *yaml.Node, f string) (err error) { s.Release.PublicKey, err = d.Path(n, f); return },
				"require_board": func(n *yaml.Node, f string) (err error) { s.Release.RequireBoard, err = d.Bool(n, f); return },
			})
		},
		"ci": func(n *yaml.Node, f string) (err error) { s.CI, err = d.ci(n, f); return },
	})
	if err != nil {
		return nil, err
	}
	if s.Store.Path == "" {
		s.Store.Path = strings.TrimSuffix(s.WorkDir, "/") + "/store"
	}
	if s.Release.PublicKey == "" {
		s.Release.PublicKey = "release/release.pub"
	}
	if len(s.Designs) == 0 {
		return nil, d.Errorf(root, "designs", "at least one design is needed (see docs/settings.md)")
	}
	// Cross-checks that need the whole file.
	names := map[string]bool{}
	for i, ds := range s.Designs {
		if names[ds.Name] {
			return nil, &Error{File: file, Line: ds.Line, Field: fmt.Sprintf("designs[%d].name", i), Msg: fmt.Sprintf("design %q is defined twice; names must be unique", ds.Name)}
		}
		names[ds.Name] = true
	}
	for i, ds := range s.Designs {
		for name, v := range ds.Parameters {
			if err := chiselCovers(&ds, name, v); err != nil {
				return nil, &Error{File: file, Line: ds.Line, Field: fmt.Sprintf("designs[%d].parameters.%s", i, name), Msg: err.Error()}
			}
		}
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
		for name, v := range t.Parameters {
			if err := chiselCovers(ds, name, v); err != nil {
				return nil, &Error{File: file, Line: t.Line, Field: f + ".parameters." + name, Msg: err.Error()}
			}
		}
	}
	if b := s.CI.Build; b != nil && !tnames[b.Target] {
		return nil, &Error{File: file, Line: b.Line, Field: "ci.build.target", Msg: fmt.Sprintf("no target named %q (targets: %s)", b.Target, strings.Join(targetNames(s), ", "))}
	}
	return s, nil
}

func targetNames(s *Settings) []string {
	out := make([]string, len(s.Targets))
	for i, t := range s.Targets {
		out[i] = t.Name
	}
	return out
}

// ci decodes the ci: section.
func (d *decoder) ci(n *yaml.Node, f string) (CI, error) {
	var c CI
	err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
		"build": func(n *yaml.Node, f string) error {
			b := &CIBuild{Line: n.Line, Seeds: "1", Runner: "local"}
			c.Build = b
			err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
				"target": func(n *yaml.Node, f string) (err error) { b.Target, err = d.ident(n, f); return },
				"seeds": func(n *yaml.Node, f string) error {
					v, err := d.Str(n, f)
					if err != nil {
						return err
					}
					if _, err := record.ParseSeeds(v); err != nil {
						return d.Errorf(n, f, "%v", err)
					}
					b.Seeds = v
					return nil
				},
				"runner": func(n *yaml.Node, f string) error {
					v, err := d.Str(n, f)
					if err != nil {
						return err
					}
					if !slices.Contains([]string{"local", "ssh", "openstack"}, v) {
						return d.Errorf(n, f, "%q is not a runner (local, ssh or openstack)", v)
					}
					b.Runner = v
					return nil
				},
			})
			if err == nil && b.Target == "" {
				err = d.Errorf(n, f+".target", "required: the build target (a name under targets:)")
			}
			return err
		},
		"board": func(n *yaml.Node, f string) error {
			b := &CIBoard{Line: n.Line}
			c.Board = b
			err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
				"board":   func(n *yaml.Node, f string) (err error) { b.Board, err = d.Str(n, f); return },
				"tag":     func(n *yaml.Node, f string) (err error) { b.Tag, err = d.Str(n, f); return },
				"rules":   func(n *yaml.Node, f string) (err error) { b.Rules, err = d.Path(n, f); return },
				"profile": func(n *yaml.Node, f string) (err error) { b.Profile, err = d.Str(n, f); return },
				"pcap":    func(n *yaml.Node, f string) (err error) { b.Pcap, err = d.Path(n, f); return },
			})
			switch {
			case err != nil:
			case (b.Board == "") == (b.Tag == ""):
				err = d.Errorf(n, f, "give exactly one of board: or tag:")
			case b.Rules == "":
				err = d.Errorf(n, f+".rules", "required: the rules file the board is tested with")
			case (b.Profile == "") == (b.Pcap == ""):
				err = d.Errorf(n, f, "give exactly one of profile: or pcap: (the traffic)")
			}
			return err
		},
	})
	if err == nil && c.Board != nil && c.Build == nil {
		err = d.Errorf(n, f+".board", "needs ci.build: the on-board test runs the build's best bitstream")
	}
	return c, err
}

// chiselCovers checks that a parameter value the design is built with is
// one the design's Chisel generators emit a module for.
func chiselCovers(ds *Design, name string, v int) error {
	for i, c := range ds.Chisel {
		vals, ok := c.Parameters[name]
		if ok && !slices.Contains(vals, v) {
			return fmt.Errorf("%s=%d has no Chisel module: %s generates %s for %s only; add %d to chisel[%d].parameters.%s of design %q", name, v, c.Project, strings.Join(c.Modules, ", "), joinInts(vals), v, i, name, ds.Name)
		}
	}
	return nil
}

func designNames(s *Settings) []string {
	var n []string
	for _, d := range s.Designs {
		n = append(n, d.Name)
	}
	return n
}

func (d *decoder) ident(n *yaml.Node, f string) (string, error) {
	v, err := d.Str(n, f)
	if err != nil {
		return "", err
	}
	if !identRe.MatchString(v) {
		return "", d.Errorf(n, f, "%q is not a valid name (letters, digits, _ . -; starting with a letter or _)", v)
	}
	return v, nil
}

func (d *decoder) strList(n *yaml.Node, f string) ([]string, error) {
	// A single string is accepted as a one-element list.
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		v, err := d.Path(n, f)
		return []string{v}, err
	}
	var out []string
	err := d.Seq(n, f, func(item *yaml.Node, f string) error {
		v, err := d.Path(item, f)
		out = append(out, v)
		return err
	})
	return out, err
}

func (d *decoder) design(n *yaml.Node, f string) (Design, error) {
	ds := Design{Line: n.Line, Parameters: map[string]int{}}
	err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
		"name":        func(n *yaml.Node, f string) (err error) { ds.Name, err = d.ident(n, f); return },
		"top":         func(n *yaml.Node, f string) (err error) { ds.Top, err = d.ident(n, f); return },
		"rtl":         func(n *yaml.Node, f string) (err error) { ds.RTL, err = d.strList(n, f); return },
		"testbenches": func(n *yaml.Node, f string) (err error) { ds.Testbenches, err = d.strList(n, f); return },
		"include":     func(n *yaml.Node, f string) (err error) { ds.Include, err = d.strList(n, f); return },
		"unit_flags":  func(n *yaml.Node, f string) (err error) { ds.UnitFlags, err = d.strList(n, f); return },
		"tb_sources":  func(n *yaml.Node, f string) (err error) { ds.TBSources, err = d.strList(n, f); return },
		"chisel": func(n *yaml.Node, f string) error {
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				c, err := d.chisel(item, f)
				if err == nil {
					ds.Chisel = append(ds.Chisel, c)
				}
				return err
			})
		},
		"widths": func(n *yaml.Node, f string) error {
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				w, err := d.Int(item, f)
				if err != nil {
					return err
				}
				if !slices.Contains(SupportedWidths, w) {
					return d.Errorf(item, f, "width %d is not supported (use %s)", w, joinInts(SupportedWidths))
				}
				if slices.Contains(ds.Widths, w) {
					return d.Errorf(item, f, "width %d listed twice", w)
				}
				ds.Widths = append(ds.Widths, w)
				return nil
			})
		},
		"parameters": func(n *yaml.Node, f string) error { return d.parameters(n, f, ds.Parameters, "widths:") },
	})
	if err != nil {
		return ds, err
	}
	switch {
	case ds.Name == "":
		return ds, d.Errorf(n, f+".name", "required (a short name for the design, e.g. pf_filter)")
	case ds.Top == "":
		return ds, d.Errorf(n, f+".top", "required (the top-level module name)")
	case len(ds.RTL) == 0:
		return ds, d.Errorf(n, f+".rtl", "required (glob patterns of RTL sources, e.g. hdl/rtl/*.sv)")
	case len(ds.Widths) == 0:
		return ds, d.Errorf(n, f+".widths", "required (a list of data widths; supported: %s)", joinInts(SupportedWidths))
	}
	return ds, nil
}

// chisel decodes one designs[].chisel[] entry.
func (d *decoder) chisel(n *yaml.Node, f string) (Chisel, error) {
	c := Chisel{Line: n.Line, Parameters: map[string][]int{}}
	err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
		"project": func(n *yaml.Node, f string) (err error) { c.Project, err = d.Path(n, f); return },
		"modules": func(n *yaml.Node, f string) error {
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				m, err := d.Str(item, f)
				if err != nil {
					return err
				}
				if !paramRe.MatchString(m) {
					return d.Errorf(item, f, "%q is not a module name", m)
				}
				c.Modules = append(c.Modules, m)
				return nil
			})
		},
		"parameters": func(n *yaml.Node, f string) error {
			if n.Kind != yaml.MappingNode {
				return d.Errorf(n, f, "expected a mapping of NAME: [integer, ...], found %s", yamlnode.KindName(n))
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				kf := yamlnode.Field(f, k.Value)
				if !paramRe.MatchString(k.Value) {
					return d.Errorf(k, kf, "%q is not a valid parameter name", k.Value)
				}
				if _, dup := c.Parameters[k.Value]; dup {
					return d.Errorf(k, kf, "parameter given twice")
				}
				var vals []int
				err := d.Seq(v, kf, func(item *yaml.Node, f string) error {
					x, err := d.Int(item, f)
					if err != nil {
						return err
					}
					if x <= 0 {
						return d.Errorf(item, f, "must be a positive integer, got %d", x)
					}
					if slices.Contains(vals, x) {
						return d.Errorf(item, f, "%d listed twice", x)
					}
					vals = append(vals, x)
					return nil
				})
				if err != nil {
					return err
				}
				if len(vals) == 0 {
					return d.Errorf(v, kf, "at least one value is needed")
				}
				slices.Sort(vals)
				c.Parameters[k.Value] = vals
			}
			return nil
		},
	})
	if err != nil {
		return c, err
	}
	switch {
	case c.Project == "":
		return c, d.Errorf(n, f+".project", "required (the directory of the Maven project's pom.xml, e.g. hdl/chisel)")
	case len(c.Modules) == 0:
		return c, d.Errorf(n, f+".modules", "required (the modules the generator writes, e.g. [pf_policer])")
	}
	return c, nil
}

// parameters decodes NAME: integer pairs into into; DATA_WIDTH is set by
// widthKey instead.
func (d *decoder) parameters(n *yaml.Node, f string, into map[string]int, widthKey string) error {
	if n.Kind != yaml.MappingNode {
		return d.Errorf(n, f, "expected a mapping of NAME: integer, found %s", yamlnode.KindName(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kf := yamlnode.Field(f, k.Value)
		if !paramRe.MatchString(k.Value) {
			return d.Errorf(k, kf, "%q is not a valid SystemVerilog parameter name", k.Value)
		}
		if k.Value == "DATA_WIDTH" {
			return d.Errorf(k, kf, "DATA_WIDTH is set by %s, not parameters:", widthKey)
		}
		if _, dup := into[k.Value]; dup {
			return d.Errorf(k, kf, "parameter given twice")
		}
		x, err := d.Int(v, kf)
		if err != nil {
			return err
		}
		if x <= 0 {
			return d.Errorf(v, kf, "must be a positive integer, got %d", x)
		}
		into[k.Value] = x
	}
	return nil
}

func (d *decoder) target(n *yaml.Node, f string) (Target, error) {
	t := Target{Line: n.Line, Parameters: map[string]int{}}
	err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
		"parameters": func(n *yaml.Node, f string) error { return d.parameters(n, f, t.Parameters, "width:") },
		"name":       func(n *yaml.Node, f string) (err error) { t.Name, err = d.ident(n, f); return },
		"design":     func(n *yaml.Node, f string) (err error) { t.Design, err = d.ident(n, f); return },
		"flow": func(n *yaml.Node, f string) error {
			v, err := d.Str(n, f)
			if err != nil {
				return err
			}
			if !slices.Contains(SupportedFlows, v) {
				return d.Errorf(n, f, "unknown flow %q (use one of: %s)", v, strings.Join(SupportedFlows, ", "))
			}
			t.Flow = v
			return nil
		},
		"device": func(n *yaml.Node, f string) (err error) { t.Device, err = d.Str(n, f); return },
		"clock_mhz": func(n *yaml.Node, f string) error {
			if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
				return d.Errorf(n, f, "expected a number of MHz, found %s", yamlnode.KindName(n))
			}
			v, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || v <= 0 || v > 2000 || math.IsNaN(v) {
				return d.Errorf(n, f, "%q is not a clock frequency in MHz (0 < f <= 2000)", n.Value)
			}
			t.ClockMHz = v
			return nil
		},
		"width": func(n *yaml.Node, f string) (err error) { t.Width, err = d.Int(n, f); return },
	})
	if err != nil {
		return t, err
	}
	switch {
	case t.Name == "":
		return t, d.Errorf(n, f+".name", "required")
	case t.Flow == "":
		return t, d.Errorf(n, f+".flow", "required (one of: %s)", strings.Join(SupportedFlows, ", "))
	case t.Device == "":
		return t, d.Errorf(n, f+".device", "required (the part name, e.g. LFE5U-85F-6BG381C)")
	case t.ClockMHz == 0:
		return t, d.Errorf(n, f+".clock_mhz", "required (target clock in MHz, e.g. 156.25)")
	case t.Width == 0:
		return t, d.Errorf(n, f+".width", "required (one of the design's widths)")
	}
	return t, nil
}

// tools decodes the open-flow tool names of a build host or image.
func (d *decoder) tools(n *yaml.Node, f string) (Tools, error) {
	var t Tools
	err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
		"nextpnr": func(n *yaml.Node, f string) (err error) { t.Nextpnr, err = d.Str(n, f); return },
		"ecppack": func(n *yaml.Node, f string) (err error) { t.Pack, err = d.Str(n, f); return },
	})
	return t, err
}

// names decodes a list of strings (a single string is a one-element list).
func (d *decoder) names(n *yaml.Node, f string) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		v, err := d.Str(n, f)
		return []string{v}, err
	}
	var out []string
	err := d.Seq(n, f, func(item *yaml.Node, f string) error {
		v, err := d.Str(item, f)
		out = append(out, v)
		return err
	})
	return out, err
}

func (d *decoder) runners(n *yaml.Node, f string) (Runners, error) {
	var r Runners
	jobs := func(dst *int) func(*yaml.Node, string) error {
		return func(n *yaml.Node, f string) error {
			v, err := d.Int(n, f)
			if err != nil {
				return err
			}
			if v < 0 || v > 1024 {
				return d.Errorf(n, f, "jobs must be between 0 (number of cores) and 1024, got %d", v)
			}
			*dst = v
			return nil
		}
	}
	err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
		"local": func(n *yaml.Node, f string) error {
			return d.Mapping(n, f, map[string]func(*yaml.Node, string) error{"jobs": jobs(&r.Local.Jobs)})
		},
		"ssh": func(n *yaml.Node, f string) error {
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				var h SSHHost
				err := d.Mapping(item, f, map[string]func(*yaml.Node, string) error{
					"name":    func(n *yaml.Node, f string) (err error) { h.Name, err = d.ident(n, f); return },
					"address": func(n *yaml.Node, f string) (err error) { h.Address, err = d.Str(n, f); return },
					"user":    func(n *yaml.Node, f string) (err error) { h.User, err = d.Str(n, f); return },
					"jobs":    jobs(&h.Jobs),
					"dir":     func(n *yaml.Node, f string) (err error) { h.Dir, err = d.Str(n, f); return },
					"tools":   func(n *yaml.Node, f string) (err error) { h.Tools, err = d.tools(n, f); return },
				})
				if err != nil {
					return err
				}
				if h.Address == "" {
					return d.Errorf(item, f+".address", "required (host or host:port)")
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
			err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
				"cloud":           func(n *yaml.Node, f string) (err error) { o.Cloud, err = d.Str(n, f); return },
				"flavor":          func(n *yaml.Node, f string) (err error) { o.Flavor, err = d.Str(n, f); return },
				"image":           func(n *yaml.Node, f string) (err error) { o.Image, err = d.Str(n, f); return },
				"network":         func(n *yaml.Node, f string) (err error) { o.Network, err = d.Str(n, f); return },
				"security_groups": func(n *yaml.Node, f string) (err error) { o.SecurityGroups, err = d.names(n, f); return },
				"user_data":       func(n *yaml.Node, f string) (err error) { o.UserData, err = d.Str(n, f); return },
				"ssh_user":        func(n *yaml.Node, f string) (err error) { o.SSHUser, err = d.Str(n, f); return },
				"jobs":            jobs(&o.Jobs),
				"boot_timeout": func(n *yaml.Node, f string) error {
					v, err := d.Str(n, f)
					if err != nil {
						return err
					}
					if o.BootTimeout, err = time.ParseDuration(v); err != nil || o.BootTimeout <= 0 {
						return d.Errorf(n, f, "%q is not a positive duration such as 10m", v)
					}
					return nil
				},
				"tools": func(n *yaml.Node, f string) (err error) { o.Tools, err = d.tools(n, f); return },
			})
			if err != nil {
				return err
			}
			for _, req := range []struct{ key, v, hint string }{
				{"flavor", o.Flavor, "a flavor name or ID, e.g. c8.32g"},
				{"image", o.Image, "an image with the open flow tools, by name or ID"},
				{"network", o.Network, "a network ID, or auto"},
			} {
				if req.v == "" {
					return d.Errorf(n, f+"."+req.key, "required (%s)", req.hint)
				}
			}
			r.OpenStack = o
			return nil
		},
	})
	return r, err
}
