package pipeline

import (
	"fmt"
	"strings"

	"github.com/fpgactl/fpgactl/internal/junit"
)

// JUnit is the run as a JUnit report: one suite per step, one case per
// item; a cached item says so in its output.
func JUnit(sum *Summary) *junit.Suites {
	doc := &junit.Suites{Name: "fpgactl ci " + sum.ID}
	for _, st := range sum.Steps {
		su := junit.Suite{Name: st.Name}
		for _, it := range st.Items {
			c := junit.Case{Name: it.Name, Classname: "ci." + strings.ReplaceAll(st.Name, "/", "."), Time: it.Seconds}
			if it.Cached {
				c.SystemOut = "cached: same inputs (key " + it.Key + ") passed before"
			}
			switch it.Status {
			case StatusPassed:
			case StatusSkipped:
				c.Skipped = &junit.Problem{Message: junit.Clean(firstLine(it.Message))}
			case StatusError:
				c.Error = &junit.Problem{Message: junit.Clean(firstLine(it.Message)), Text: junit.Clean(it.Message)}
			default:
				c.Failure = &junit.Problem{Message: junit.Clean(firstLine(it.Message)), Text: junit.Clean(it.Message)}
			}
			su.Cases = append(su.Cases, c)
		}
		// A step that could not run or was skipped still shows up.
		if len(st.Items) == 0 && st.Status != StatusPassed {
			c := junit.Case{Name: st.Name, Classname: "ci." + strings.ReplaceAll(st.Name, "/", ".")}
			if st.Status == StatusSkipped {
				c.Skipped = &junit.Problem{Message: junit.Clean(st.Message)}
			} else {
				c.Error = &junit.Problem{Message: junit.Clean(firstLine(st.Message)), Text: junit.Clean(st.Message)}
			}
			su.Cases = append(su.Cases, c)
		}
		doc.Suites = append(doc.Suites, su)
	}
	doc.Finish()
	return doc
}

var statusMark = map[string]string{
	StatusPassed: "✅", StatusFailed: "❌", StatusError: "💥", StatusSkipped: "⏭️", StatusCancelled: "⏹️",
}

// Markdown is the run as a merge-request comment: the verdict, a table of
// steps, and what failed with its message.
func Markdown(sum *Summary) string {
	var b strings.Builder
	verdict := "passed"
	if !sum.OK() {
		verdict = sum.Status
	}
	commit := sum.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if sum.Dirty {
		commit += " (with uncommitted changes)"
	}
	fmt.Fprintf(&b, "### %s fpgactl ci %s\n\n", statusMark[sum.Status], verdict)
	fmt.Fprintf(&b, "Commit `%s` · run `%s` · %.1f s · %d items: %d cached, %d run, %d not passed", commit, sum.ID, sum.Seconds, sum.Items, sum.Cached, sum.Ran, sum.Failed)
	if sum.Shard != "" {
		fmt.Fprintf(&b, " · sharded on %s", sum.Shard)
	}
	b.WriteString("\n\n| step | result | items | cached | run | time |\n|---|---|---:|---:|---:|---:|\n")
	for _, st := range sum.Steps {
		result := statusMark[st.Status] + " " + st.Status
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %.1f s |\n", st.Name, result, len(st.Items), st.Cached, st.Ran, st.Seconds)
	}
	for _, st := range sum.Steps {
		if st.Build != nil {
			mark := "✅"
			if !st.Build.Met {
				mark = "⚠️"
			}
			fmt.Fprintf(&b, "\n%s %s\n", mark, st.Build.timing())
		}
	}
	var problems []string
	for _, st := range sum.Steps {
		if st.Status == StatusPassed {
			continue
		}
		if len(st.Items) == 0 || st.Status == StatusError {
			problems = append(problems, fmt.Sprintf("- **%s** %s: %s", st.Name, st.Status, mdLine(st.Message)))
		}
		for _, it := range st.Items {
			if it.Status != StatusPassed {
				problems = append(problems, fmt.Sprintf("- **%s** `%s` %s: %s", st.Name, it.Name, it.Status, mdLine(it.Message)))
			}
		}
	}
	if len(problems) > 0 {
		b.WriteString("\n<details open><summary>Not passed</summary>\n\n")
		const most = 40
		if len(problems) > most {
			problems = append(problems[:most], fmt.Sprintf("- … and %d more (see the JUnit report)", len(problems)-most))
		}
		b.WriteString(strings.Join(problems, "\n"))
		b.WriteString("\n\n</details>\n")
	}
	return b.String()
}

// mdLine keeps a message to one table-safe line.
func mdLine(s string) string {
	s = firstLine(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}
