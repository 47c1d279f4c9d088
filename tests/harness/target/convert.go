package target

import (
	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
)

// FromProfile returns generated frames as frames to replay at their times.
func FromProfile(fs []profile.Frame) []Frame {
	out := make([]Frame, len(fs))
	for i, f := range fs {
		out[i] = Frame{Data: f.Data, TimeNS: f.TimeNS}
	}
	return out
}

// FromCapture returns captured frames as frames to replay at the capture's
// times, kept from going backwards: a capture merged from several interfaces
// can, and a replay keeps the capture's order. The data is shared with fs.
func FromCapture(fs []pcapio.Frame) []Frame {
	out := make([]Frame, len(fs))
	for i, f := range fs {
		out[i] = Frame{Data: f.Data, TimeNS: f.TimeNS}
		if i > 0 && out[i].TimeNS < out[i-1].TimeNS {
			out[i].TimeNS = out[i-1].TimeNS
		}
	}
	return out
}
