package yamlnode

import (
	"fmt"
	"testing"

	"gopkg.in/yaml.v3"
)

type testError struct {
	file  string
	line  int
	field string
	msg   string
}

func (e *testError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.file, e.line, e.field, e.msg)
}

func newTestError(file string, line int, field, msg string) error {
	return &testError{file, line, field, msg}
}

// root parses src and returns its top node.
func root(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// value is the value of the only key of a one-key mapping.
func value(t *testing.T, src string) *yaml.Node {
	t.Helper()
	return root(t, src).Content[1]
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestErrorf(t *testing.T) {
	d := &Decoder{File: "f.yaml", Err: newTestError}
	err := d.Errorf(nil, "a.b", "bad %d", 3)
	te, ok := err.(*testError)
	if !ok || *te != (testError{"f.yaml", 0, "a.b", "bad 3"}) {
		t.Errorf("Errorf(nil) = %#v", err)
	}
	if got := errText(d.Errorf(value(t, "x:\n  3\n"), "x", "m")); got != "f.yaml:2: x: m" {
		t.Errorf("Errorf at a node = %q", got)
	}
}

func TestMapping(t *testing.T) {
	d := &Decoder{File: "f.yaml", Err: newTestError}
	var got []string
	h := func(n *yaml.Node, f string) error { got = append(got, f+"="+n.Value); return nil }
	handlers := map[string]func(*yaml.Node, string) error{"b": h, "a": h}
	if err := d.Mapping(value(t, "top:\n  a: 1\n  b: 2\n"), "top", handlers); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[top.a=1 top.b=2]" {
		t.Errorf("handlers saw %v", got)
	}
	if err := d.Mapping(root(t, "a: 1\n"), "", handlers); err != nil || got[len(got)-1] != "a=1" {
		t.Errorf("root mapping: %v, fields %v", err, got)
	}
	cases := []struct{ name, src, want string }{
		{"unknown", "top:\n  a: 1\n  c: 2\n", "f.yaml:3: top.c: unknown key (allowed here: a, b)"},
		{"twice", "top:\n  a: 1\n  b: 2\n  a: 3\n", "f.yaml:4: top.a: key given twice (first at line 2); keep one"},
		{"alias key", "top:\n  a: &b x\n  *b : 2\n", "f.yaml:3: top.b: unknown key (allowed here: a, b)"},
		{"list", "top: [1]\n", "f.yaml:1: top: expected a mapping (key: value lines), found a list"},
		{"scalar", "top: 3\n", `f.yaml:1: top: expected a mapping (key: value lines), found the value "3"`},
		{"null", "top:\n", "f.yaml:1: top: expected a mapping (key: value lines), found nothing"},
	}
	for _, c := range cases {
		if got := errText(d.Mapping(value(t, c.src), "top", handlers)); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	stop := fmt.Errorf("stop")
	err := d.Mapping(value(t, "top: {a: 1, b: 2}\n"), "top", map[string]func(*yaml.Node, string) error{
		"a": func(*yaml.Node, string) error { return stop },
		"b": func(*yaml.Node, string) error { t.Error("b called after a failed"); return nil },
	})
	if err != stop {
		t.Errorf("handler error = %v, want it returned as is", err)
	}
}

func TestSeq(t *testing.T) {
	d := &Decoder{File: "f.yaml", Err: newTestError}
	var got []string
	each := func(n *yaml.Node, f string) error { got = append(got, f+"="+n.Value); return nil }
	if err := d.Seq(value(t, "l: [x, y]\n"), "a.l", each); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a.l[0]=x a.l[1]=y]" {
		t.Errorf("each saw %v", got)
	}
	if got := errText(d.Seq(value(t, "l: {x: 1}\n"), "l", each)); got != "f.yaml:1: l: expected a list, found a mapping" {
		t.Errorf("mapping as list: %q", got)
	}
	if got := errText(d.Seq(value(t, "l:\n"), "l", each)); got != "f.yaml:1: l: expected a list, found nothing" {
		t.Errorf("null as list: %q", got)
	}
}

func TestNullIsEmpty(t *testing.T) {
	d := &Decoder{File: "f.yaml", Err: newTestError, NullIsEmpty: true}
	fail := func(*yaml.Node, string) error { t.Error("called for a null value"); return nil }
	if err := d.Mapping(value(t, "m:\n"), "m", map[string]func(*yaml.Node, string) error{"a": fail}); err != nil {
		t.Errorf("Mapping(null) = %v", err)
	}
	if err := d.Seq(value(t, "l: ~\n"), "l", fail); err != nil {
		t.Errorf("Seq(null) = %v", err)
	}
	// Only null is empty: other wrong kinds are still errors.
	if got := errText(d.Seq(value(t, "l: 3\n"), "l", fail)); got != `f.yaml:1: l: expected a list, found the value "3"` {
		t.Errorf("Seq(3) = %q", got)
	}
	if got := errText(d.Mapping(value(t, "m: [1]\n"), "m", nil)); got != "f.yaml:1: m: expected a mapping (key: value lines), found a list" {
		t.Errorf("Mapping([1]) = %q", got)
	}
}

func TestStrAndPath(t *testing.T) {
	asIs := &Decoder{File: "f.yaml", Err: newTestError}
	trim := &Decoder{File: "f.yaml", Err: newTestError, TrimSpace: true}
	n := value(t, "s: \"  a b \"\n")
	if v, err := asIs.Str(n, "s"); err != nil || v != "  a b " {
		t.Errorf("Str = %q, %v; want the value as written", v, err)
	}
	if v, err := trim.Str(n, "s"); err != nil || v != "a b" {
		t.Errorf("Str with TrimSpace = %q, %v", v, err)
	}
	if v, err := asIs.Str(value(t, "s: 3\n"), "s"); err != nil || v != "3" {
		t.Errorf("Str(3) = %q, %v; want the scalar's text", v, err)
	}
	if v, err := trim.Path(value(t, "p: \" dir/x.sv \"\n"), "p"); err != nil || v != "dir/x.sv" {
		t.Errorf("Path with TrimSpace = %q, %v", v, err)
	}
	cases := []struct {
		name, src, want string
		f               func(*yaml.Node, string) (string, error)
	}{
		{"null", "s:\n", "f.yaml:1: s: expected a string, found nothing", asIs.Str},
		{"list", "s: [a]\n", "f.yaml:1: s: expected a string, found a list", trim.Str},
		{"blank", "s: \"  \"\n", "f.yaml:1: s: must not be empty", asIs.Str},
		{"blank trimmed", "s: \"  \"\n", "f.yaml:1: s: must not be empty", trim.Str},
		{"path nul", "s: \"a\\0b\"\n", "f.yaml:1: s: path contains a NUL byte", asIs.Path},
		{"path mapping", "s: {a: 1}\n", "f.yaml:1: s: expected a string, found a mapping", asIs.Path},
	}
	for _, c := range cases {
		_, err := c.f(value(t, c.src), "s")
		if got := errText(err); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestInt(t *testing.T) {
	d := &Decoder{File: "f.yaml", Err: newTestError}
	for src, want := range map[string]int{"-7": -7, "0x10": 16, "2147483647": 2147483647} {
		if v, err := d.Int(value(t, "i: "+src+"\n"), "i"); err != nil || v != want {
			t.Errorf("Int(%s) = %d, %v; want %d", src, v, err, want)
		}
	}
	cases := map[string]string{
		"wide":       `f.yaml:1: i: expected an integer, found the value "wide"`,
		"\"3\"":      `f.yaml:1: i: expected an integer, found the value "3"`,
		"1.5":        `f.yaml:1: i: expected an integer, found the value "1.5"`,
		"[1]":        "f.yaml:1: i: expected an integer, found a list",
		"":           "f.yaml:1: i: expected an integer, found nothing",
		"2147483648": `f.yaml:1: i: "2147483648" is not an integer in 32-bit range`,
	}
	for src, want := range cases {
		_, err := d.Int(value(t, "i: "+src+"\n"), "i")
		if got := errText(err); got != want {
			t.Errorf("Int(%s): got %q, want %q", src, got, want)
		}
	}
}

func TestFieldAndKindName(t *testing.T) {
	if Field("", "a") != "a" || Field("a[0]", "b") != "a[0].b" {
		t.Errorf("Field: %q, %q", Field("", "a"), Field("a[0]", "b"))
	}
	r := root(t, "m: {a: 1}\nl: [1]\ns: x\nn:\nal: &x y\nref: *x\n")
	want := []string{"a mapping", "a list", `the value "x"`, "nothing", `the value "y"`, "an alias"}
	for i, w := range want {
		if got := KindName(r.Content[2*i+1]); got != w {
			t.Errorf("KindName(%s) = %q, want %q", r.Content[2*i].Value, got, w)
		}
	}
}
