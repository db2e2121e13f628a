package main

// The eval subcommand: runs batch estimators on labelled recordings under
// the temporal, interior and random protocols and prints a table per
// recording and overall (optionally an SVG of the predictions).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// evalOptions are the eval subcommand's flags.
type evalOptions struct {
	estimators []string
	protocols  []string
	svgPath    string
	summary    bool
	geo        evalGeometry
	files      []string
}

// evalEstimatorNames lists what eval can run: the served estimators and the
// plain ridge baseline.
func evalEstimatorNames() []string {
	return append(batchEstimatorNames(), "ridge")
}

// evalFitter returns the fitting function of an eval estimator name.
func evalFitter(name string) (evalFit, bool) {
	if name == "ridge" {
		return fitPlainRidge, true
	}
	if !validEstimator(name) {
		return nil, false
	}
	return func(rows []labelledSample, w, h float64) (batchModel, error) {
		return fitBatchModel(name, rows, w, h)
	}, true
}

// errEvalHelp reports that -h printed the usage.
var errEvalHelp = errors.New("help requested")

// parseEvalArgs reads the eval flags; usage goes to out for -h.
func parseEvalArgs(args []string, out io.Writer) (evalOptions, error) {
	fs := flag.NewFlagSet("eyetrack eval", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o evalOptions
	est := fs.String("estimators", strings.Join(evalEstimatorNames(), ","), "comma-separated estimators to compare ("+strings.Join(evalEstimatorNames(), ", ")+"; ridge is a plain ridge on the four iris coordinates)")
	prot := fs.String("protocols", strings.Join(evalProtocols(), ","), "comma-separated protocols ("+strings.Join(evalProtocols(), ", ")+")")
	fs.StringVar(&o.svgPath, "svg", "", "write an SVG of the targets and predictions of every recording, protocol and estimator to this file")
	fs.BoolVar(&o.summary, "summary", false, "print the overall table only")
	fs.Float64Var(&o.geo.distanceCm, "viewing-distance-cm", 0, "eye-to-screen distance in cm; with -screen-width-cm, errors are also given in degrees")
	fs.Float64Var(&o.geo.screenWidthCm, "screen-width-cm", 0, "physical width of the screen in cm")
	fs.Float64Var(&o.geo.screenWidthPx, "screen-width-px", 0, "width of that screen in CSS px (default: each recording's screen width, stored or inferred)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, "Usage: eyetrack eval [flags] FILES...\n\nFILES are labelled recordings (*_fixed_train_data.csv). Without stored screen\ncolumns the screen is the targets' window (min + max of the target coordinates).\n\nFlags:\n")
			fs.SetOutput(out)
			fs.PrintDefaults()
			return o, errEvalHelp
		}
		return o, fmt.Errorf("eval: %w", err)
	}
	o.files = fs.Args()
	if len(o.files) == 0 {
		return o, errors.New("eval: no recordings given (eyetrack eval [flags] FILES...; -h for the flags)")
	}
	var err error
	if o.estimators, err = nameList(*est, evalEstimatorNames(), "-estimators"); err != nil {
		return o, err
	}
	if o.protocols, err = nameList(*prot, evalProtocols(), "-protocols"); err != nil {
		return o, err
	}
	for _, v := range []float64{o.geo.distanceCm, o.geo.screenWidthCm, o.geo.screenWidthPx} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return o, fmt.Errorf("eval: lengths must be positive, got %v", v)
		}
	}
	if (o.geo.distanceCm > 0) != (o.geo.screenWidthCm > 0) {
		return o, errors.New("eval: degrees need both -viewing-distance-cm and -screen-width-cm")
	}
	return o, nil
}

// nameList splits a comma-separated list and checks each name.
func nameList(s string, valid []string, flagName string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(valid, f) {
			return nil, fmt.Errorf("eval: %s: unknown name %q (valid: %s)", flagName, f, strings.Join(valid, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("eval: %s is empty", flagName)
	}
	return out, nil
}

// evalCell is one estimator under one protocol on one recording.
type evalCell struct {
	stats  evalStats
	points []evalPoint
	err    error
}

// evalResult is everything eval computed on one recording, indexed
// [protocol][estimator] in the options' order.
type evalResult struct {
	rec   recording
	cells [][]evalCell
}

// runEval is the eval subcommand.
func runEval(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseEvalArgs(args, stdout)
	if errors.Is(err, errEvalHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	var results []evalResult
	for _, f := range o.files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		rec, err := loadRecording(f)
		if err != nil {
			return err
		}
		results = append(results, evaluateRecording(rec, o))
	}
	if !o.summary {
		for _, r := range results {
			printRecordingTable(stdout, r, o)
		}
	}
	printOverallTable(stdout, results, o)
	if o.svgPath != "" {
		if err := os.WriteFile(o.svgPath, evalSVG(results, o), 0o644); err != nil {
			return fmt.Errorf("eval: writing the SVG: %w", err)
		}
	}
	return nil
}

// evaluateRecording runs every protocol and estimator on one recording.
func evaluateRecording(rec recording, o evalOptions) evalResult {
	res := evalResult{rec: rec, cells: make([][]evalCell, len(o.protocols))}
	for i, p := range o.protocols {
		res.cells[i] = make([]evalCell, len(o.estimators))
		trials, err := protocolTrials(p, rec)
		for j, name := range o.estimators {
			if err != nil {
				res.cells[i][j].err = err
				continue
			}
			fit, _ := evalFitter(name)
			c := &res.cells[i][j]
			c.stats, c.points, c.err = runProtocol(rec, trials, fit, o.geo)
		}
	}
	return res
}

// statColumns formats the figures of a cell for a table row.
func statColumns(s evalStats) string {
	deg := "–"
	if !math.IsNaN(s.deg) {
		deg = fmt.Sprintf("%.2f", s.deg)
	}
	return fmt.Sprintf("%.1f\t%.1f\t%.1f\t%.1f\t%s", s.mean, s.median, s.dx, s.dy, deg)
}

// printRecordingTable prints one recording's table.
func printRecordingTable(w io.Writer, r evalResult, o evalOptions) {
	screen := "stored in the file"
	if !r.rec.screenStored {
		screen = "the targets' window"
	}
	fmt.Fprintf(w, "== %s: %d rows, %d targets, screen %g×%g (%s)\n", r.rec.name, len(r.rec.rows), len(r.rec.targets), r.rec.width, r.rec.height, screen)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "protocol\testimator\tbatches\tsamples\tmean px\tmedian px\t|dx| px\t|dy| px\tmean deg\t")
	for i, p := range o.protocols {
		for j, name := range o.estimators {
			c := r.cells[i][j]
			if c.err != nil {
				fmt.Fprintf(tw, "%s\t%s\t\t\t%s\t\t\t\t\t\n", p, name, c.err)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t\n", p, name, c.stats.trials, c.stats.samples, statColumns(c.stats))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// printOverallTable prints the figures averaged over the recordings (each
// recording counts once; those where a cell failed are left out of it),
// how many recordings each estimator was best on, and the average of
// temporal and interior.
func printOverallTable(w io.Writer, results []evalResult, o evalOptions) {
	fmt.Fprintf(w, "== overall: %d recordings, each counts once\n", len(results))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "protocol\testimator\trecordings\tmean px\tmedian px\t|dx| px\t|dy| px\tmean deg\tbest on\t")
	avg := make([][]evalStats, len(o.protocols))
	for i, p := range o.protocols {
		avg[i] = make([]evalStats, len(o.estimators))
		best := bestCounts(results, i, len(o.estimators))
		for j, name := range o.estimators {
			var s evalStats
			n := 0
			for _, r := range results {
				c := r.cells[i][j]
				if c.err != nil {
					continue
				}
				n++
				s.mean += c.stats.mean
				s.median += c.stats.median
				s.dx += c.stats.dx
				s.dy += c.stats.dy
				s.deg += c.stats.deg
			}
			k := float64(n)
			s.mean, s.median, s.dx, s.dy, s.deg = s.mean/k, s.median/k, s.dx/k, s.dy/k, s.deg/k
			avg[i][j] = s
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t\n", p, name, n, statColumns(s), best[j])
		}
	}
	ti, ii := slices.Index(o.protocols, protocolTemporal), slices.Index(o.protocols, protocolInterior)
	if ti >= 0 && ii >= 0 {
		for j, name := range o.estimators {
			fmt.Fprintf(tw, "temporal+interior\t%s\t\t%.1f\t\t\t\t\t\t\n", name, (avg[ti][j].mean+avg[ii][j].mean)/2)
		}
	}
	tw.Flush()
}

// bestCounts counts, for protocol i, the recordings on which each estimator
// has the lowest mean error.
func bestCounts(results []evalResult, i, estimators int) []int {
	best := make([]int, estimators)
	for _, r := range results {
		b := -1
		for j, c := range r.cells[i] {
			if c.err == nil && (b < 0 || c.stats.mean < r.cells[i][b].stats.mean) {
				b = j
			}
		}
		if b >= 0 {
			best[b]++
		}
	}
	return best
}
