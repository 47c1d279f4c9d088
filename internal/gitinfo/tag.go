package gitinfo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// TagExists reports whether the work tree at dir has tag name.
func TagExists(ctx context.Context, dir, name string) (bool, error) {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "-q", "--verify", "refs/tags/"+name)
	cmd.Dir = dir
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return false, nil
	default:
		return false, fmt.Errorf("git rev-parse refs/tags/%s in %s: %w", name, dir, err)
	}
}

// HasCommit reports whether commit is an object of the repository at dir.
func HasCommit(ctx context.Context, dir, commit string) bool {
	cmd := exec.CommandContext(ctx, "git", "cat-file", "-e", commit+"^{commit}")
	cmd.Dir = dir
	return cmd.Run() == nil
}

// CreateTag makes an annotated tag name at commit (not necessarily HEAD)
// with message. It never moves an existing tag.
func CreateTag(ctx context.Context, dir, name, commit, message string) error {
	// The message goes through stdin (-F -) so that any text is safe.
	cmd := exec.CommandContext(ctx, "git", "tag", "--annotate", "--file=-", "--", name, commit)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(message)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "user.email") || strings.Contains(msg, "identity") {
			msg += " (set git config user.name and user.email: an annotated tag names its tagger)"
		}
		return fmt.Errorf("git tag %s %s: %v: %s", name, commit, err, msg)
	}
	return nil
}
