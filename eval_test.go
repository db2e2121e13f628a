package main

// Tests of the eval subcommand: its tables, its flags and their errors.

import (
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestEvalCommand(t *testing.T) {
	files := []string{
		filepath.Join("testdata", "sessions", "45_fixed_train_data.csv"),
		filepath.Join("testdata", "sessions", "a_fixed_train_data.csv"),
	}
	svg := filepath.Join(t.TempDir(), "eval.svg")
	var out strings.Builder
	args := append([]string{"eval", "-svg", svg, "-viewing-distance-cm", "60", "-screen-width-cm", "34"}, files...)
	if err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"== 45: 45 rows, 9 targets, screen 1495×746 (the targets' window)",
		"== a: 50 rows, 5 targets, screen 1536×864 (stored in the file)",
		"== overall: 2 recordings, each counts once",
		"temporal+interior",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the output lacks %q:\n%s", want, text)
		}
	}
	// Every recording table and the overall table have a row per protocol
	// and estimator, with degrees (the recordings' column 9, the overall
	// table's column 8).
	perRecording, overall, _ := strings.Cut(text, "== overall")
	for _, p := range evalProtocols() {
		for _, e := range evalEstimatorNames() {
			for _, part := range []struct {
				text      string
				degColumn int
				rows      int
			}{{perRecording, 8, 2}, {overall, 7, 1}} {
				rows := 0
				for _, line := range strings.Split(part.text, "\n") {
					f := strings.Fields(line)
					if len(f) != 9 || f[0] != p || f[1] != e {
						continue
					}
					rows++
					if deg, err := strconv.ParseFloat(f[part.degColumn], 64); err != nil || !(deg > 0 && deg < 20) {
						t.Errorf("%s/%s: no degrees in %q", p, e, line)
					}
				}
				if rows != part.rows {
					t.Errorf("%s/%s: %d table rows, want %d", p, e, rows, part.rows)
				}
			}
		}
	}
}

func TestEvalFlags(t *testing.T) {
	file := filepath.Join("testdata", "sessions", "45_fixed_train_data.csv")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no recordings given"},
		{[]string{"-estimators", "webgazer,magic", file}, `unknown name "magic" (valid: webgazer, precise, ridge)`},
		{[]string{"-protocols", "later", file}, `unknown name "later" (valid: temporal, interior, random)`},
		{[]string{"-estimators", " , ", file}, "-estimators is empty"},
		{[]string{"-viewing-distance-cm", "60", file}, "both -viewing-distance-cm and -screen-width-cm"},
		{[]string{"-screen-width-cm", "-3", file}, "positive"},
		{[]string{"-bogus", file}, "flag provided but not defined"},
		{[]string{filepath.Join("testdata", "sessions", "missing_fixed_train_data.csv")}, "no such file"},
	} {
		err := runEval(context.Background(), tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
	var help strings.Builder
	if err := runEval(context.Background(), []string{"-h"}, &help); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"eyetrack eval [flags] FILES", "-svg", "-viewing-distance-cm", "-screen-width-cm", "-estimators", "-protocols"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("eval -h does not mention %q", want)
		}
	}
	var summary strings.Builder
	if err := runEval(context.Background(), []string{"-summary", "-estimators", "precise", "-protocols", "random", file}, &summary); err != nil {
		t.Fatal(err)
	}
	if s := summary.String(); strings.Contains(s, "== 45") || !strings.Contains(s, "random") || strings.Contains(s, "webgazer") {
		t.Errorf("-summary with one estimator and protocol:\n%s", s)
	}
}
