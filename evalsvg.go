package main

// The eval command's picture: one row per recording, one panel per
// protocol and estimator, showing each target and the predictions made
// for it in the target's colour.

import (
	"bytes"
	"fmt"
	"html"
	"math"
)

// SVG layout, in SVG user units.
const (
	svgPanelWidth = 300.0
	svgGap        = 16.0
	svgTitle      = 18.0
)

// targetColour is a distinct colour for the i-th target: the first ten
// from a qualitative palette, then hues spaced by the golden angle.
func targetColour(i int) string {
	palette := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}
	if i < len(palette) {
		return palette[i]
	}
	return fmt.Sprintf("hsl(%.0f,70%%,45%%)", math.Mod(float64(i)*137.508, 360))
}

// evalSVG draws every recording's targets and predictions.
func evalSVG(results []evalResult, o evalOptions) []byte {
	cols := len(o.protocols) * len(o.estimators)
	width := svgGap + float64(cols)*(svgPanelWidth+svgGap)
	var body bytes.Buffer
	y := svgGap
	for _, r := range results {
		fmt.Fprintf(&body, "<text x=\"%g\" y=\"%g\" font-size=\"14\" font-weight=\"bold\">%s (%g×%g)</text>\n", svgGap, y+12, html.EscapeString(r.rec.name), r.rec.width, r.rec.height)
		y += svgTitle + 4
		panelHeight := svgPanelWidth * r.rec.height / r.rec.width
		x := svgGap
		for i, p := range o.protocols {
			for j, name := range o.estimators {
				writeSVGPanel(&body, r, r.cells[i][j], p+" / "+name, x, y, panelHeight)
				x += svgPanelWidth + svgGap
			}
		}
		y += svgTitle + panelHeight + svgGap
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\">\n", width, y)
	fmt.Fprintf(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n")
	b.Write(body.Bytes())
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// writeSVGPanel draws one protocol and estimator on one recording: a
// title with the mean error, the screen, the predictions (clipped to the
// screen) and the targets on top.
func writeSVGPanel(b *bytes.Buffer, r evalResult, c evalCell, title string, x, y, h float64) {
	label := title
	if c.err != nil {
		label += ": " + c.err.Error()
	} else {
		label += fmt.Sprintf(": mean %.0f px", c.stats.mean)
	}
	fmt.Fprintf(b, "<text x=\"%g\" y=\"%g\" font-size=\"11\">%s</text>\n", x, y+12, html.EscapeString(label))
	y += svgTitle
	w, hgt := r.rec.width, r.rec.height
	fmt.Fprintf(b, "<svg x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\">\n", x, y, svgPanelWidth, h, w, hgt)
	fmt.Fprintf(b, "<rect width=\"%g\" height=\"%g\" fill=\"#fafafa\" stroke=\"#999\" stroke-width=\"%g\"/>\n", w, hgt, w/150)
	colour := map[[2]float64]string{}
	for i, t := range r.rec.targets {
		colour[[2]float64{t.x, t.y}] = targetColour(i)
	}
	dot := w / 200
	for _, p := range c.points {
		fmt.Fprintf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" fill-opacity=\"0.55\"/>\n", p.predX, p.predY, dot, colour[[2]float64{p.trueX, p.trueY}])
	}
	for i, t := range r.rec.targets {
		fmt.Fprintf(b, "<circle cx=\"%g\" cy=\"%g\" r=\"%.1f\" fill=\"white\" stroke=\"%s\" stroke-width=\"%.1f\"/>\n", t.x, t.y, 3*dot, targetColour(i), dot)
	}
	b.WriteString("</svg>\n")
}
