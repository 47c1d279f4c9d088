package unittest

import "github.com/fpgactl/fpgactl/internal/project"

// DesignsOf is the runner's view of the project's designs (after Chisel
// elaboration: the generated files are part of the RTL).
func DesignsOf(s *project.Settings) ([]Design, error) {
	var out []Design
	for i := range s.Designs {
		d := &s.Designs[i]
		rtl, err := s.RTLFiles(d)
		if err != nil {
			return nil, err
		}
		tbs, err := s.TestbenchFiles(d)
		if err != nil {
			return nil, err
		}
		// Sources only testbenches see (reference models) build with every testbench.
		tbSrc, err := s.TBSourceFiles(d)
		if err != nil {
			return nil, err
		}
		rtl = append(rtl, tbSrc...)
		out = append(out, Design{Name: d.Name, RTL: rtl, Include: s.IncludeDirs(d), Testbenches: tbs, Widths: d.Widths, Parameters: d.Parameters, ExtraFlags: d.UnitFlags})
	}
	return out, nil
}
