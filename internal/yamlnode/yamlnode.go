// Package yamlnode decodes YAML strictly by walking gopkg.in/yaml.v3 nodes,
// so that every error can say "file:line: field: what is wrong (what is
// allowed)". It is shared by internal/project (fpgactl.yaml) and
// tests/harness/scenario (scenario files) and labctl/inventory (board
// inventories), whose errors are all an Error.
//
// A field is the dotted path of a value in the file, e.g. designs[0].widths[1];
// the root mapping has field "".
package yamlnode

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decoder holds what the helpers need to report a problem, and the few
// choices on which the files it decodes differ.
type Decoder struct {
	// File is the file being decoded, as errors should name it.
	File string
	// Err makes the error for msg about field at line of File (line is 0
	// when no node applies); nil makes an *Error.
	Err func(file string, line int, field, msg string) error
	// NullIsEmpty makes Mapping and Seq accept a value that is not there
	// (`key:` with nothing after it, YAML null) as an empty mapping or
	// list; without it that is an error ("expected a list, found nothing").
	NullIsEmpty bool
	// TrimSpace makes Str and Path return the value without leading and
	// trailing white space; without it the value is returned as written.
	TrimSpace bool
}

// Error is a problem at a place in a file: "file:line: field: msg". Err,
// when set, is a problem found in another file the field names (a rules
// file, a capture), whose own text carries its location.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
	Err   error
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

func (e *Error) Unwrap() error { return e.Err }

// NewError is the default Err: an *Error.
func NewError(file string, line int, field, msg string) error {
	return &Error{File: file, Line: line, Field: field, Msg: msg}
}

// Errorf is Err with a formatted message, at n's line (0 when n is nil).
func (d *Decoder) Errorf(n *yaml.Node, field, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	mk := d.Err
	if mk == nil {
		mk = NewError
	}
	return mk(d.File, line, field, fmt.Sprintf(format, args...))
}

// Field is the field of key inside parent.
func Field(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// Mapping walks a mapping node, calling the handler of each key with the
// key's value and field. Unknown keys (listing the allowed ones), keys that
// are not plain scalars (e.g. an alias) and keys given twice are errors.
func (d *Decoder) Mapping(n *yaml.Node, field string, handlers map[string]func(*yaml.Node, string) error) error {
	if n.Kind != yaml.MappingNode {
		if d.NullIsEmpty && isNull(n) {
			return nil
		}
		return d.Errorf(n, field, "expected a mapping (key: value lines), found %s", KindName(n))
	}
	seen := map[string]int{} // key -> line it was first given at
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kf := Field(field, k.Value)
		h, ok := handlers[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			allowed := make([]string, 0, len(handlers))
			for key := range handlers {
				allowed = append(allowed, key)
			}
			slices.Sort(allowed)
			return d.Errorf(k, kf, "unknown key (allowed here: %s)", strings.Join(allowed, ", "))
		}
		if first, dup := seen[k.Value]; dup {
			return d.Errorf(k, kf, "key given twice (first at line %d); keep one", first)
		}
		seen[k.Value] = k.Line
		if err := h(v, kf); err != nil {
			return err
		}
	}
	return nil
}

// Seq walks a list node, calling each with every item and its field
// (field[i]).
func (d *Decoder) Seq(n *yaml.Node, field string, each func(*yaml.Node, string) error) error {
	if n.Kind != yaml.SequenceNode {
		if d.NullIsEmpty && isNull(n) {
			return nil
		}
		return d.Errorf(n, field, "expected a list, found %s", KindName(n))
	}
	for i, item := range n.Content {
		if err := each(item, fmt.Sprintf("%s[%d]", field, i)); err != nil {
			return err
		}
	}
	return nil
}

// KindName describes what n is, for "expected X, found Y" messages.
func KindName(n *yaml.Node) string {
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

// Str is a non-blank scalar (any scalar but null: 3 and true are the
// strings "3" and "true"), trimmed when d.TrimSpace.
func (d *Decoder) Str(n *yaml.Node, field string) (string, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", d.Errorf(n, field, "expected a string, found %s", KindName(n))
	}
	if strings.TrimSpace(n.Value) == "" {
		return "", d.Errorf(n, field, "must not be empty")
	}
	if d.TrimSpace {
		return strings.TrimSpace(n.Value), nil
	}
	return n.Value, nil
}

// Path is a Str without NUL bytes, returned as written (callers resolve it
// against whatever directory it is relative to).
func (d *Decoder) Path(n *yaml.Node, field string) (string, error) {
	v, err := d.Str(n, field)
	if err != nil {
		return "", err
	}
	if strings.ContainsRune(v, 0) {
		return "", d.Errorf(n, field, "path contains a NUL byte")
	}
	return v, nil
}

// Int is a YAML integer (tag !!int) in 32-bit range.
func (d *Decoder) Int(n *yaml.Node, field string) (int, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, d.Errorf(n, field, "expected an integer, found %s", KindName(n))
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v > math.MaxInt32 || v < math.MinInt32 {
		return 0, d.Errorf(n, field, "%q is not an integer in 32-bit range", n.Value)
	}
	return int(v), nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// Bool is a YAML boolean (tag !!bool: true, false).
func (d *Decoder) Bool(n *yaml.Node, field string) (bool, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, d.Errorf(n, field, "expected true or false, found %s", KindName(n))
	}
	v, err := strconv.ParseBool(n.Value)
	if err != nil {
		return false, d.Errorf(n, field, "%q is not true or false", n.Value)
	}
	return v, nil
}
