package netns

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newNS creates a namespace for one test and deletes it when the test ends.
func newNS(t *testing.T) *Namespace {
	t.Helper()
	if err := Available(); err != nil {
		if errors.Is(err, ErrNotRoot) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := Create(ctx, UniqueName("fpgactl-t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("deleting namespace: %v", err)
		}
	})
	return ns
}

func TestUniqueName(t *testing.T) {
	a, b := UniqueName("x"), UniqueName("x")
	if a == b {
		t.Fatalf("UniqueName returned %q twice", a)
	}
	if !strings.HasPrefix(a, "x-") || !strings.Contains(a, "-"+strconv.Itoa(os.Getpid())+"-") {
		t.Errorf("UniqueName = %q, want x-PID-N", a)
	}
}

func TestCreateRejectsBadName(t *testing.T) {
	for _, name := range []string{"", "a/b", ".."} {
		if _, err := Create(context.Background(), name); err == nil {
			t.Errorf("Create(%q) succeeded", name)
		}
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	ns := newNS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, err := os.Stat(ns.Path()); err != nil {
		t.Fatalf("namespace mount: %v", err)
	}
	if err := ns.AddVethPair(ctx, "fpt-a", "fpt-b", 9600); err != nil {
		t.Fatal(err)
	}

	// Inside: both ends exist, are up, have the MTU; lo is up.
	err := ns.Do(func() error {
		for _, name := range []string{"fpt-a", "fpt-b", "lo"} {
			ifc, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			if ifc.Flags&net.FlagUp == 0 {
				t.Errorf("%s is down", name)
			}
			if name != "lo" && ifc.MTU != 9600 {
				t.Errorf("%s MTU = %d, want 9600", name, ifc.MTU)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Outside: the test's own thread never left the host namespace.
	if _, err := net.InterfaceByName("fpt-a"); err == nil {
		t.Error("fpt-a is visible outside the namespace")
	}

	// IPv6 is off on the veths, so the kernel sends nothing on its own.
	if _, err := os.Stat("/proc/sys/net/ipv6"); err == nil {
		out, err := ns.Command(ctx, "cat", "/proc/sys/net/ipv6/conf/fpt-a/disable_ipv6", "/proc/sys/net/ipv6/conf/fpt-b/disable_ipv6").CombinedOutput()
		if err != nil {
			t.Fatalf("reading disable_ipv6: %v: %s", err, out)
		}
		if got := strings.Fields(string(out)); len(got) != 2 || got[0] != "1" || got[1] != "1" {
			t.Errorf("disable_ipv6 = %q, want 1 and 1", out)
		}
	}

	// A second pair with a taken name fails with ip's own message.
	err = ns.AddVethPair(ctx, "fpt-a", "fpt-c", 1500)
	if err == nil || !strings.Contains(err.Error(), "ip -n "+ns.Name()+" link add name fpt-a") {
		t.Errorf("duplicate veth: err = %v, want the ip command line", err)
	}

	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ns.Path()); !os.IsNotExist(err) {
		t.Errorf("namespace still mounted after Close: %v", err)
	}
	if err := ns.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := ns.Do(func() error { return nil }); err == nil {
		t.Error("Do in a deleted namespace succeeded")
	}
}

func TestVethNamesThatLookLikeKeywords(t *testing.T) {
	// "a" alone is ip's abbreviation of "address".
	ns := newNS(t)
	if err := ns.AddVethPair(context.Background(), "a", "b", 1500); err != nil {
		t.Fatal(err)
	}
}

func TestDoReturnsErrorAndPanic(t *testing.T) {
	ns := newNS(t)
	want := errors.New("from f")
	if err := ns.Do(func() error { return want }); err != want {
		t.Errorf("Do = %v, want %v", err, want)
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want boom", r)
			}
		}()
		_ = ns.Do(func() error { panic("boom") })
	}()
}

func TestCreateExistingFails(t *testing.T) {
	ns := newNS(t)
	_, err := Create(context.Background(), ns.Name())
	if err == nil || !strings.Contains(err.Error(), "ip netns add "+ns.Name()) {
		t.Errorf("Create of an existing name: err = %v, want the ip command line", err)
	}
	// The failed Create must not have deleted the existing namespace.
	if _, err := os.Stat(ns.Path()); err != nil {
		t.Errorf("existing namespace gone: %v", err)
	}
}
