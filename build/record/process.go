package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// CurrentProcess describes this process for Build.Process. Fields that
// cannot be read (no /proc) stay empty, and Alive then gives the benefit of
// the doubt.
func CurrentProcess() Process { return ProcessOf(os.Getpid()) }

// ProcessOf describes process pid of this host for Build.Process.
func ProcessOf(pid int) Process {
	p := Process{PID: pid, BootID: bootID()}
	p.Host, _ = os.Hostname()
	if st, err := readStat(p.PID); err == nil {
		p.StartTicks = st.startTicks
	}
	return p
}

// Alive reports whether the process p may still be running. It answers
// false only on evidence: the machine rebooted since (boot ID differs), the
// pid is gone or a zombie, or the pid now belongs to a process started at
// another time. A process on another host, or one described too thinly to
// check, counts as alive, so that a build is never marked interrupted by
// guesswork.
func Alive(p Process) bool {
	if p.PID <= 0 {
		return true
	}
	if host, err := os.Hostname(); err == nil && p.Host != "" && p.Host != host {
		return true
	}
	if boot := bootID(); p.BootID != "" && boot != "" && p.BootID != boot {
		return false
	}
	st, err := readStat(p.PID)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	if st.state == 'Z' || st.state == 'X' {
		return false
	}
	if p.StartTicks != 0 && st.startTicks != p.StartTicks {
		return false
	}
	return true
}

// MarkInterrupted finds running builds whose owning process is gone (see
// Alive) and records what happened: the build becomes interrupted, seeds
// that were running become lost (their outcome is unknown and their runner
// resources may still exist: see Instance), and seeds that had not started
// become cancelled. It returns every readable build as it is afterwards,
// newest first (as List), and the IDs it marked, so that a caller that lists
// builds reads each record once. Unreadable records are reported in the
// error but do not stop the others from being checked.
func (s *Store) MarkInterrupted(ctx context.Context) ([]*Build, []string, error) {
	builds, listErr := s.List()
	var (
		marked []string
		errs   = []error{listErr}
	)
	errNotDead := errors.New("owner alive")
	for i, b := range builds {
		if b.Status != StatusRunning || Alive(b.Process) {
			continue
		}
		var current *Build
		err := s.Update(ctx, b.ID, func(b *Build) error {
			current = b
			// Check again under the lock: the build may have finished
			// between List and now.
			if b.Status != StatusRunning || Alive(b.Process) {
				return errNotDead
			}
			now := time.Now().UTC()
			b.Status = StatusInterrupted
			b.FinishedAt = now
			b.Error = fmt.Sprintf("fpgactl (pid %d on %s) stopped before the build finished (killed, crashed, or the machine rebooted)", b.Process.PID, hostOrUnknown(b.Process.Host))
			for i := range b.Results {
				r := &b.Results[i]
				switch r.Status {
				case SeedRunning:
					r.Status = SeedLost
					r.FinishedAt = now
					r.Error = "fpgactl died while this seed was running; its result is unknown"
					if r.Phase != "" {
						r.Error += " (last phase: " + string(r.Phase) + ")"
					}
				case SeedQueued:
					r.Status = SeedCancelled
					r.Error = "never started: fpgactl died first"
				}
			}
			return nil
		})
		switch {
		case err == nil:
			builds[i] = current // as written
			marked = append(marked, b.ID)
		case errors.Is(err, errNotDead):
			builds[i] = current // as read under the lock
		default:
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return builds, marked, errors.Join(errs...)
}

func hostOrUnknown(h string) string {
	if h == "" {
		return "an unknown host"
	}
	return h
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

type procStat struct {
	state      byte
	startTicks uint64
}

// readStat reads the state and start time of pid from /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(data, pid)
}

func parseStat(data []byte, pid int) (procStat, error) {
	// The command name (field 2) is in parentheses and may itself contain
	// spaces and parentheses: the fields proper start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); field 22 (starttime) is f[19].
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return procStat{state: f[0][0], startTicks: start}, nil
}
