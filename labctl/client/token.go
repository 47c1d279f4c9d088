package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenEnv is the environment variable that holds the lab token; it wins
// over the token file.
const TokenEnv = "FPGACTL_LAB_TOKEN"

// TokenFile is where the lab token is kept when TokenEnv is not set:
// $XDG_CONFIG_HOME/fpgactl/lab-token, by default ~/.config/fpgactl/lab-token.
// It must not be readable by group or others (mode 0600).
func TokenFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = filepath.Join("~", ".config")
	}
	return filepath.Join(dir, "fpgactl", "lab-token")
}

// HowToGetToken says how to obtain a token and where to put it (file "": TokenFile()).
func HowToGetToken(file string) string {
	if file == "" {
		file = TokenFile()
	}
	return "ask a lab admin to run 'fpgactl lab user add YOURNAME --db LAB.db' on the lab service's machine, then put the token it prints in $" +
		TokenEnv + " or in " + file + " (chmod 600)"
}

// LoadToken returns the lab token from $FPGACTL_LAB_TOKEN or the token file
// (getenv nil: os.Getenv; file "": TokenFile()), or an error that says how
// to get one. The token itself never appears in an error.
func LoadToken(getenv func(string) string, file string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if t := strings.TrimSpace(getenv(TokenEnv)); t != "" {
		return t, nil
	}
	if file == "" {
		file = TokenFile()
	}
	st, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no lab token: $%s is not set and %s does not exist; %s", TokenEnv, file, HowToGetToken(file))
	}
	if err != nil {
		return "", fmt.Errorf("lab token file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("lab token file %s is readable by others (mode %04o); run: chmod 600 %s", file, st.Mode().Perm(), file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("lab token file: %w", err)
	}
	t := strings.TrimSpace(string(data))
	if t == "" || strings.ContainsAny(t, " \t\r\n") {
		return "", fmt.Errorf("lab token file %s must hold one token on one line; %s", file, HowToGetToken(file))
	}
	return t, nil
}
