package lab

import (
	"context"
	"net"
	"os"

	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/regsrv"
)

// startFault serves the board's inventory control socket as a proxy in
// front of its own socket that applies the board's fault.
func (l *Lab) startFault(b *Board) error {
	os.Remove(b.Control)
	ln, err := net.Listen("unix", b.Control)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	regs := &faultyRegs{socket: b.Socket, fault: b.Fault}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = regsrv.Serve(ctx, ln, regs)
	}()
	b.stopFault = func() {
		cancel()
		<-done
		regs.close()
	}
	return nil
}

// faultyRegs forwards register accesses to a board's socket, dialling again
// after an error (the board may have been re-programmed), and changes the
// writes its fault says. regsrv.Serve calls it one access at a time.
type faultyRegs struct {
	socket string
	fault  Fault
	c      *regsrv.Client
}

func (f *faultyRegs) conn(ctx context.Context) (*regsrv.Client, error) {
	if f.c == nil {
		c, err := regsrv.Dial(ctx, f.socket)
		if err != nil {
			return nil, err
		}
		f.c = c
	}
	return f.c, nil
}

func (f *faultyRegs) close() {
	if f.c != nil {
		f.c.Close()
		f.c = nil
	}
}

func (f *faultyRegs) WriteReg(ctx context.Context, addr, data uint32) error {
	if f.fault == FlipFirstRule && addr == rules.RuleWordAddr(0, 0) {
		// Word 0 bits 2:1 are the action (sim/rules Entry.Words): pass <-> drop.
		switch rules.Action(data >> 1 & 3) {
		case rules.ActionPass:
			data |= uint32(rules.ActionDrop) << 1
		case rules.ActionDrop:
			data &^= 3 << 1
		}
	}
	c, err := f.conn(ctx)
	if err != nil {
		return err
	}
	if err := c.WriteReg(ctx, addr, data); err != nil {
		f.close()
		return err
	}
	return nil
}

func (f *faultyRegs) ReadReg(ctx context.Context, addr uint32) (uint32, error) {
	c, err := f.conn(ctx)
	if err != nil {
		return 0, err
	}
	v, err := c.ReadReg(ctx, addr)
	if err != nil {
		f.close()
	}
	return v, err
}
