package unittest

import (
	"os"
	"os/exec"
)

// verilatorBuildEnv is the environment of a Verilator build: when ccache is
// installed and the user has not chosen an OBJCACHE, the generated C++ is
// compiled through ccache, so an unchanged testbench rebuilds in seconds even in
// a fresh checkout (CI clones anew each run; ccache's store lives in $HOME).
func verilatorBuildEnv() []string {
	env := os.Environ()
	if _, set := os.LookupEnv("OBJCACHE"); set {
		return env
	}
	if _, err := exec.LookPath("ccache"); err != nil {
		return env
	}
	return append(env, "OBJCACHE=ccache")
}
