package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// chart is a line chart written as SVG by hand.
type chart struct {
	title, xLabel, yLabel string
	logX                  bool
	series                []series
}

type series struct {
	name string
	pts  [][2]float64
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"}

// Chart geometry in pixels.
const (
	svgW, svgH             = 760, 420
	padL, padR, padT, padB = 80, 20, 40, 90
	plotW, plotH           = svgW - padL - padR, svgH - padT - padB
	fontAttrs              = `font-family="sans-serif" font-size="12"`
	legendY                = svgH - 30
	legendStep             = 240
	// minLogX keeps zero latencies on a log axis.
	minLogX = 0.01
)

// WriteThroughputSVG plots accepted events/s over time for every phase.
func (r *Report) WriteThroughputSVG(w io.Writer) error {
	c := chart{title: "Accepted events/s over time", xLabel: "seconds into the phase", yLabel: "events/s"}
	for _, p := range r.Phases {
		s := series{name: p.Name}
		for _, t := range p.Timeline {
			s.pts = append(s.pts, [2]float64{t.Seconds, t.EventsPerSec})
		}
		c.series = append(c.series, s)
	}
	return c.writeSVG(w)
}

// WriteLatencySVG plots the pipeline's latency CDFs on a log time axis.
func (r *Report) WriteLatencySVG(w io.Writer) error {
	c := chart{title: "Pipeline latency, cumulative distribution", xLabel: "milliseconds (log scale)",
		yLabel: "fraction at or below", logX: true}
	p := r.Pipeline
	for _, s := range []struct {
		name string
		cdf  []CDFPoint
	}{{"HTTP 202 latency", p.HTTPCDF}, {"window delivery lag", p.WindowLagCDF}, {"event-to-screen", p.EventToScreenCDF}} {
		sr := series{name: s.name}
		for _, pt := range s.cdf {
			sr.pts = append(sr.pts, [2]float64{max(pt.Millis, minLogX), pt.Fraction})
		}
		c.series = append(c.series, sr)
	}
	return c.writeSVG(w)
}

// bounds returns the data ranges, y from zero.
func (c *chart) bounds() (x0, x1, y1 float64) {
	x0, x1, y1 = math.Inf(1), math.Inf(-1), 0
	for _, s := range c.series {
		for _, p := range s.pts {
			x0, x1, y1 = min(x0, p[0]), max(x1, p[0]), max(y1, p[1])
		}
	}
	if math.IsInf(x0, 1) {
		x0, x1 = 0, 1
	}
	if c.logX {
		x0, x1 = math.Pow(10, math.Floor(math.Log10(x0))), math.Pow(10, math.Ceil(math.Log10(x1)))
	} else {
		x0, x1 = 0, niceCeil(x1)
	}
	if x1 <= x0 {
		x1 = x0 + 1
	}
	return x0, x1, niceCeil(y1)
}

func (c *chart) writeSVG(w io.Writer) error {
	x0, x1, y1 := c.bounds()
	sx := func(x float64) float64 {
		if c.logX {
			return padL + plotW*(math.Log10(x)-math.Log10(x0))/(math.Log10(x1)-math.Log10(x0))
		}
		return padL + plotW*(x-x0)/(x1-x0)
	}
	sy := func(y float64) float64 { return padT + plotH*(1-y/y1) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-family="sans-serif" font-size="15" font-weight="bold">%s</text>`+"\n", padL, html.EscapeString(c.title))
	c.axes(&b, x0, x1, y1, sx, sy)
	for i, s := range c.series {
		c.line(&b, s, palette[i%len(palette)], sx, sy)
		lx := padL + i*legendStep
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, lx, legendY, lx+24, legendY, palette[i%len(palette)])
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s>%s</text>`+"\n", lx+30, legendY+4, fontAttrs, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (c *chart) line(b *strings.Builder, s series, color string, sx, sy func(float64) float64) {
	if len(s.pts) == 0 {
		return
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="`, color)
	for _, p := range s.pts {
		fmt.Fprintf(b, "%.1f,%.1f ", sx(p[0]), sy(p[1]))
	}
	b.WriteString(`"/>` + "\n")
}

// axes draws the frame, grid lines, tick labels and axis titles.
func (c *chart) axes(b *strings.Builder, x0, x1, y1 float64, sx, sy func(float64) float64) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", padL, padT, plotW, plotH)
	for _, x := range c.xTicks(x0, x1) {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, sx(x), padT, sx(x), padT+plotH)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" %s>%s</text>`+"\n", sx(x), padT+plotH+16, fontAttrs, num(x))
	}
	for i := 0; i <= 5; i++ {
		y := y1 * float64(i) / 5
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, padL, sy(y), padL+plotW, sy(y))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" %s>%s</text>`+"\n", padL-6, sy(y)+4, fontAttrs, num(y))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" %s>%s</text>`+"\n", padL+plotW/2, padT+plotH+36, fontAttrs, html.EscapeString(c.xLabel))
	fmt.Fprintf(b, `<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)" %s>%s</text>`+"\n",
		padT+plotH/2, padT+plotH/2, fontAttrs, html.EscapeString(c.yLabel))
}

// xTicks are powers of ten on a log axis, else five even steps.
func (c *chart) xTicks(x0, x1 float64) []float64 {
	var ts []float64
	if c.logX {
		for x := x0; x <= x1*1.0001; x *= 10 {
			ts = append(ts, x)
		}
		return ts
	}
	for i := 0; i <= 5; i++ {
		ts = append(ts, x0+(x1-x0)*float64(i)/5)
	}
	return ts
}

// niceCeil rounds v up to 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a
// power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p*1.0000001 {
			return m * p
		}
	}
	return 10 * p
}

// num formats a tick label briefly: 1.5k, 200k, 1.2M, 0.25.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e3:
		return trim(v/1e3) + "k"
	}
	return trim(v)
}

func trim(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-" {
		return "0"
	}
	return s
}
