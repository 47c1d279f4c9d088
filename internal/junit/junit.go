// Package junit writes JUnit XML reports in the form CI systems (Jenkins, GitLab,
// GitHub test reporters) read: <testsuites><testsuite><testcase>.
package junit

import (
	"encoding/xml"
	"fmt"
	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Suites is the document root.
type Suites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr,omitempty"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Time     float64  `xml:"time,attr"`
	Suites   []Suite  `xml:"testsuite"`
}

// Suite groups the cases of one testbench.
type Suite struct {
	Name     string  `xml:"name,attr"`
	Tests    int     `xml:"tests,attr"`
	Failures int     `xml:"failures,attr"`
	Errors   int     `xml:"errors,attr"`
	Skipped  int     `xml:"skipped,attr"`
	Time     float64 `xml:"time,attr"`
	Cases    []Case  `xml:"testcase"`
}

// Case is one test case. Failure, Error and Skipped are mutually exclusive.
type Case struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	Time      float64  `xml:"time,attr"`
	Failure   *Problem `xml:"failure,omitempty"`
	Error     *Problem `xml:"error,omitempty"`
	Skipped   *Problem `xml:"skipped,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

// Problem is the body of a failure, error or skip.
type Problem struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// Finish fills the counts and times of the suites and the root from their cases.
func (s *Suites) Finish() {
	s.Tests, s.Failures, s.Errors, s.Skipped, s.Time = 0, 0, 0, 0, 0
	for i := range s.Suites {
		su := &s.Suites[i]
		su.Tests, su.Failures, su.Errors, su.Skipped, su.Time = len(su.Cases), 0, 0, 0, 0
		for _, c := range su.Cases {
			su.Time += c.Time
			switch {
			case c.Failure != nil:
				su.Failures++
			case c.Error != nil:
				su.Errors++
			case c.Skipped != nil:
				su.Skipped++
			}
		}
		s.Tests += su.Tests
		s.Failures += su.Failures
		s.Errors += su.Errors
		s.Skipped += su.Skipped
		s.Time += su.Time
	}
}

// Encode writes the document (after Finish) to w.
func (s *Suites) Encode(w io.Writer) error {
	s.Finish()
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// WriteFile writes the report to path atomically, creating parent directories.
func (s *Suites) WriteFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating report directory: %w", err)
	}
	if err := atomicfile.Write(path, 0o644, s.Encode); err != nil {
		return fmt.Errorf("writing JUnit report: %w", err)
	}
	return nil
}

// Clean removes characters XML 1.0 cannot carry (simulator output can contain them).
func Clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r != 0xFFFE && r != 0xFFFF) {
			return r
		}
		return -1
	}, s)
}
