// Package gitinfo asks git about the project's work tree: the commit that is
// checked out and whether the tree differs from it. Records (builds, test
// results, releases) name what they were made from with it.
package gitinfo

import (
	"context"
	"os/exec"
	"strings"
)

// Head is the checked-out commit and whether tracked files differ from it.
type Head struct {
	Commit string `json:"commit,omitempty"` // 40 hex digits; empty outside a git work tree
	Dirty  bool   `json:"dirty,omitempty"`
}

// Short is the commit as tables show it: 12 hex digits, "-" when unknown,
// and a "+" when the tree was dirty.
func (h Head) Short() string {
	if h.Commit == "" {
		return "-"
	}
	s := h.Commit[:min(len(h.Commit), 12)]
	if h.Dirty {
		s += "+"
	}
	return s
}

// Commit returns the checked-out commit of the work tree at dir, or "" when
// dir is not in a git work tree (or git is missing): records then say so
// instead of failing.
func Commit(ctx context.Context, dir string) string {
	out, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// Read returns the commit and whether tracked files were changed (untracked
// files do not count: they are not part of any commit either way).
func Read(ctx context.Context, dir string) Head {
	h := Head{Commit: Commit(ctx, dir)}
	if h.Commit == "" {
		return h
	}
	out, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=no")
	h.Dirty = err == nil && strings.TrimSpace(out) != ""
	return h
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return string(out), err
}
