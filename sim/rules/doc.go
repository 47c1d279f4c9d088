// Package rules parses, checks and compiles pf_filter rules files.
//
// A rules file is YAML (format reference: docs/rules.md). Parse checks every
// field and reports problems as *Error values that carry file, line, column
// and field path; Compile lays the rules out as the hardware table entries of
// hdl/SPEC.md §3, and Table.RegisterWrites gives the AXI4-Lite writes (§6)
// that load and activate it. The same Table drives the golden model
// (sim/model) and the test vectors (sim/vectors).
package rules
