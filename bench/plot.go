package bench

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotS5 draws S5 (single-removal latency against organization size, p50
// solid and p99 dashed, one colour per engine) as a PNG at path.
func PlotS5(path string, results []*Result) error {
	p := plot.New()
	p.Title.Text = "S5: single removal (Jicoo DELETE, concurrency 1) as the organization grows"
	p.X.Label.Text = "members in the organization"
	p.Y.Label.Text = "latency (ms)"
	p.X.Scale = plot.LogScale{}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(10)
	p.Legend.YOffs = -vg.Points(5)
	var ticks plot.ConstantTicks
	seen := map[int]bool{}
	p.Add(plotter.NewGrid())
	colours := []color.Color{color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}}
	drawn := 0
	for i, r := range results {
		var p50, p99 plotter.XYs
		for _, pt := range r.Sizes {
			if pt.S5 == nil || pt.S5.N == 0 {
				continue
			}
			if !seen[pt.Members] {
				seen[pt.Members] = true
				ticks = append(ticks, plot.Tick{Value: float64(pt.Members), Label: count(pt.Members)})
			}
			p50 = append(p50, plotter.XY{X: float64(pt.Members), Y: msf(pt.S5.P50)})
			p99 = append(p99, plotter.XY{X: float64(pt.Members), Y: msf(pt.S5.P99)})
		}
		if len(p50) == 0 {
			continue
		}
		c := colours[i%len(colours)]
		for _, series := range []struct {
			name   string
			xys    plotter.XYs
			dashed bool
		}{{r.Engine + " p50", p50, false}, {r.Engine + " p99", p99, true}} {
			line, points, err := plotter.NewLinePoints(series.xys)
			if err != nil {
				return err
			}
			line.Color, points.Color = c, c
			line.Width = vg.Points(1.5)
			points.Shape = draw.CircleGlyph{}
			if series.dashed {
				line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				points.Shape = draw.TriangleGlyph{}
			}
			p.Add(line, points)
			p.Legend.Add(series.name, line, points)
		}
		drawn++
	}
	if drawn == 0 {
		return fmt.Errorf("plot S5: no S5 figures to plot")
	}
	p.X.Tick.Marker = ticks
	p.Y.Max *= 1.25 // room for the legend above the lines
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}

func msf(d interface{ Seconds() float64 }) float64 { return d.Seconds() * 1000 }

// count writes 10000 as 10k and 1000000 as 1M.
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
