package cicmd

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/clitest"
	"gopkg.in/yaml.v3"
)

var repoRoot = filepath.Join("..", "..", "..")

// scriptLines are the shell lines of a CI definition's jobs or steps.
func scriptLines(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, file))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var lines []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "run") {
					lines = append(lines, strings.Split(s, "\n")...)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					lines = append(lines, s)
				}
				walk(x)
			}
		}
	}
	walk(doc)
	return lines
}

// The ready-to-copy CI definitions parse, and every `fpgactl ci` they run
// is accepted by the command's real flag set.
func TestCIDefinitionsCallValidCommands(t *testing.T) {
	for _, file := range []string{".gitlab-ci.yml", ".github/workflows/fpgactl-ci.yml"} {
		var calls int
		for _, line := range scriptLines(t, file) {
			_, rest, ok := strings.Cut(line, "bin/fpgactl ci")
			if !ok {
				continue
			}
			calls++
			var args []string
			fields := strings.Fields(rest)
			for i := 0; i < len(fields); i++ {
				a := fields[i]
				if a == "--output" { // the root command's global flag
					i++
					continue
				}
				if a == ">" || a == "|" || a == "&&" {
					break
				}
				if strings.HasPrefix(a, `"$`) { // a shell array of flags, e.g. "${build[@]}"
					continue
				}
				args = append(args, a)
			}
			if _, called, err := clitest.Flags(NewCmdCI, args...); err != nil || !called {
				t.Errorf("%s: fpgactl ci %s: %v", file, strings.Join(args, " "), err)
			}
		}
		if calls == 0 {
			t.Errorf("%s runs no fpgactl ci", file)
		}
		if lines := strings.Join(scriptLines(t, file), "\n"); !strings.Contains(lines, "scripts/install-deps.sh --pipeline") {
			t.Errorf("%s does not install the tools", file)
		}
	}
}

// scripts/post-summary.sh posts the Markdown summary to GitHub and GitLab
// APIs with the token in a header, and does nothing without a token.
func TestPostSummary(t *testing.T) {
	summary := filepath.Join(t.TempDir(), "ci.md")
	md := "### ✅ fpgactl ci passed\n\n| step | result |\n|---|---|\n| unit | \"passed\" |\n"
	os.WriteFile(summary, []byte(md), 0o644)
	type request struct {
		path, auth, body string
	}
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization") + r.Header.Get("PRIVATE-TOKEN")
		got = append(got, request{r.URL.Path, auth, string(body)})
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	post := func(kind string, env ...string) string {
		cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts", "post-summary.sh"), kind, summary)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("post-summary %s: %v\n%s", kind, err, out)
		}
		if strings.Contains(string(out), "s3cret") {
			t.Errorf("the token was printed:\n%s", out)
		}
		return string(out)
	}

	post("github", "GH_TOKEN=s3cret", "PR_NUMBER=7", "GITHUB_REPOSITORY=acme/filter", "GITHUB_API_URL="+srv.URL)
	if len(got) != 1 || got[0].path != "/repos/acme/filter/issues/7/comments" || got[0].auth != "Bearer s3cret" {
		t.Fatalf("github request: %+v", got)
	}
	var body struct{ Body string }
	if err := json.Unmarshal([]byte(got[0].body), &body); err != nil || body.Body != md {
		t.Errorf("github body %q: %v", got[0].body, err)
	}

	post("gitlab", "FPGACTL_GITLAB_TOKEN=s3cret", "CI_MERGE_REQUEST_IID=12", "CI_PROJECT_ID=34", "CI_API_V4_URL="+srv.URL+"/api/v4")
	if len(got) != 2 || got[1].path != "/api/v4/projects/34/merge_requests/12/notes" || got[1].auth != "s3cret" {
		t.Fatalf("gitlab request: %+v", got[1:])
	}
	form, err := url.ParseQuery(got[1].body)
	if err != nil || form.Get("body") != md {
		t.Errorf("gitlab body %q: %v", got[1].body, err)
	}

	if out := post("gitlab", "CI_MERGE_REQUEST_IID=12"); !strings.Contains(out, "not posted") || len(got) != 2 {
		t.Errorf("without a token: %s, %d requests", out, len(got))
	}
}
