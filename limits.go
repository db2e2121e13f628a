package main

// The input limits an operator can set (MAX_SAMPLES and the others).

import (
	"flag"
	"strconv"
)

// inputLimits are the request limits an operator can change.
type inputLimits struct {
	maxSamples    int     // iris samples in one batch_predict
	maxCalibRows  int     // rows in each calib_validation array
	maxIDLength   int     // characters in file_name / calib_id, as sent
	storeIDLength int     // bytes of an id once sanitized: the store's file names must fit (0: no limit)
	maxStringLen  int     // characters in model, user_id, study_id
	maxScreenPx   float64 // largest accepted screen_width / screen_height
	maxCoordinate float64 // largest accepted |iris or target coordinate|
}

// defaultInputLimits are generous for real calibrations (a few hundred
// rows) and still bound the work one request can ask for.
func defaultInputLimits() inputLimits {
	return inputLimits{
		maxSamples:    100_000,
		maxCalibRows:  20_000,
		maxIDLength:   200,
		maxStringLen:  200,
		maxScreenPx:   100_000,
		maxCoordinate: 1e7,
	}
}

// limitFlags holds the raw values of the input-limit flags until parse.
type limitFlags struct {
	samples, rows, strings, screen *string
}

func registerLimitFlags(fs *flag.FlagSet, env func(name, def string) string, def inputLimits) *limitFlags {
	return &limitFlags{
		samples: fs.String("max-samples", env("MAX_SAMPLES", strconv.Itoa(def.maxSamples)), "iris samples per batch_predict (MAX_SAMPLES)"),
		rows:    fs.String("max-calib-rows", env("MAX_CALIB_ROWS", strconv.Itoa(def.maxCalibRows)), "samples per calib_validation array (MAX_CALIB_ROWS)"),
		strings: fs.String("max-string-length", env("MAX_STRING_LENGTH", strconv.Itoa(def.maxStringLen)), "characters in file_name, calib_id, model, user_id and study_id (MAX_STRING_LENGTH)"),
		screen:  fs.String("max-screen-px", env("MAX_SCREEN_PX", strconv.FormatFloat(def.maxScreenPx, 'f', -1, 64)), "largest screen_width/screen_height accepted, in CSS pixels (MAX_SCREEN_PX)"),
	}
}

// parse returns lim with the flags' values.
func (f *limitFlags) parse(lim inputLimits) (inputLimits, error) {
	for _, l := range []struct {
		name, raw string
		set       func(n int64)
	}{
		{"MAX_SAMPLES", *f.samples, func(n int64) { lim.maxSamples = int(n) }},
		{"MAX_CALIB_ROWS", *f.rows, func(n int64) { lim.maxCalibRows = int(n) }},
		{"MAX_STRING_LENGTH", *f.strings, func(n int64) { lim.maxStringLen, lim.maxIDLength = int(n), int(n) }},
		{"MAX_SCREEN_PX", *f.screen, func(n int64) { lim.maxScreenPx = float64(n) }},
	} {
		n, err := positiveInt(l.raw, l.name)
		if err != nil {
			return lim, err
		}
		l.set(n)
	}
	return lim, nil
}
