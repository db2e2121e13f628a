package main

// Tests of the eval command's SVG: well-formed, a panel per protocol and
// estimator, every prediction in its target's colour.

import (
	"bytes"
	"encoding/xml"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalSVG(t *testing.T) {
	rec, err := loadRecording(filepath.Join("testdata", "sessions", "45_fixed_train_data.csv"))
	if err != nil {
		t.Fatal(err)
	}
	corners := gridRecording(t, []float64{50, 950}, []float64{40, 560}, 3) // no interior target
	o := evalOptions{estimators: evalEstimatorNames(), protocols: evalProtocols()}
	results := []evalResult{evaluateRecording(rec, o), evaluateRecording(corners, o)}
	svg := evalSVG(results, o)

	dec := xml.NewDecoder(bytes.NewReader(svg))
	var svgs, circles, texts int
	var sawError bool
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "svg":
				svgs++
			case "circle":
				circles++
			case "text":
				texts++
			}
		case xml.CharData:
			if strings.Contains(string(el), errNoTrial.Error()) {
				sawError = true
			}
		}
	}
	panels := len(o.protocols) * len(o.estimators)
	if svgs != 1+2*panels || texts != 2*(1+panels) {
		t.Fatalf("%d svg elements and %d texts, want %d and %d", svgs, texts, 1+2*panels, 2*(1+panels))
	}
	want := 0
	for _, r := range results {
		for i := range r.cells {
			for _, c := range r.cells[i] {
				want += len(c.points) + len(r.rec.targets)
			}
		}
	}
	if circles != want {
		t.Fatalf("%d circles, want %d (every prediction and every target in each panel)", circles, want)
	}
	if !sawError {
		t.Fatal("the interior panels of the corners-only recording do not say why they are empty")
	}
	if targetColour(0) == targetColour(1) || targetColour(10) == targetColour(11) {
		t.Fatal("neighbouring targets share a colour")
	}

	// Each prediction is drawn in the colour of the target it belongs to.
	cell := evalCell{points: []evalPoint{
		{trueX: rec.targets[3].x, trueY: rec.targets[3].y, predX: 10, predY: 10},
		{trueX: rec.targets[0].x, trueY: rec.targets[0].y, predX: 20, predY: 20},
	}}
	var b bytes.Buffer
	writeSVGPanel(&b, results[0], cell, "test", 0, 0, 100)
	var fills []string
	dec = xml.NewDecoder(&b)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "circle" {
			for _, a := range el.Attr {
				if a.Name.Local == "fill" {
					fills = append(fills, a.Value)
				}
			}
		}
	}
	if len(fills) < 2 || fills[0] != targetColour(3) || fills[1] != targetColour(0) {
		t.Fatalf("prediction colours %v, want %s then %s", fills, targetColour(3), targetColour(0))
	}
}
