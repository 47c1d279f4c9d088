package rules

import "fmt"

// Table is a compiled rule table ready for the hardware or the golden model.
type Table struct {
	DefaultDrop   bool
	MalformedPass bool
	Entries       []Entry
	// Names[i] is the rules-file name of Entries[i] (empty for tables not
	// built from a file).
	Names []string
}

// DefaultNumRules is the rule table size of the default RTL build.
const DefaultNumRules = 64

// Compile builds the table for a filter with numRules rule slots.
func (rs *RuleSet) Compile(numRules int) (*Table, error) {
	if numRules < 1 {
		return nil, &Error{File: rs.File, Msg: fmt.Sprintf("table size %d is too small; want at least 1 rule slot", numRules)}
	}
	if len(rs.Rules) > numRules {
		r := rs.Rules[numRules]
		return nil, &Error{File: rs.File, Line: r.Line, Column: r.Column, Field: fmt.Sprintf("rules[%d]", numRules),
			Msg: fmt.Sprintf("%d rules do not fit in a table of %d; remove rules or use a build with more rule slots", len(rs.Rules), numRules)}
	}
	t := &Table{DefaultDrop: rs.DefaultDrop, MalformedPass: rs.MalformedPass}
	for _, r := range rs.Rules {
		t.Entries = append(t.Entries, r.Entry)
		t.Names = append(t.Names, r.Name)
	}
	return t, nil
}
