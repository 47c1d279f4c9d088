package testcmd

// The one place where `fpgactl test unit` meets the Go golden model: the vector
// sets of sim/vectors (hdl/SPEC.md §7) behind unittest.VectorWriter. Tests of
// this package inject a fake instead.

import (
	"github.com/fpgactl/fpgactl/internal/unittest"
	"github.com/fpgactl/fpgactl/sim/vectors"
)

type simVectors struct{}

func (simVectors) Names() []string { return vectors.Names() }

func (simVectors) Write(name string, p unittest.VectorParams, dir string) error {
	return vectors.Write(name, vectors.Params{DataWidth: p.DataWidth, NumRules: p.NumRules, MaxFrameBytes: p.MaxFrameBytes}, dir)
}

func defaultVectorWriter() unittest.VectorWriter { return simVectors{} }
