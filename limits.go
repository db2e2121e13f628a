package main

import "unicode/utf8"

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

// decodeID turns the id a client sent in field (file_name, calib_id) into
// the calibration id: at most maxIDLength characters as sent, reduced by
// sanitizeID, and short enough for the store's file names.
func decodeID(field, name string, lim inputLimits) (string, error) {
	if n := utf8.RuneCountInString(name); n > lim.maxIDLength {
		return "", badField(field, "is %d characters long; the limit is %d (MAX_STRING_LENGTH)", n, lim.maxIDLength)
	}
	id, err := sanitizeID(name)
	if err != nil {
		return "", badField(field, "%v", err)
	}
	if lim.storeIDLength > 0 && len(id) > lim.storeIDLength {
		return "", badField(field, "is %d characters long once reduced to an id; the limit is %d, the longest the calibration store's file system can name files with", len(id), lim.storeIDLength)
	}
	return id, nil
}

// checkStringLength refuses a string field longer than limit characters.
func checkStringLength(field, s string, limit int) error {
	if n := utf8.RuneCountInString(s); n > limit {
		return badField(field, "is %d characters long; the limit is %d (MAX_STRING_LENGTH)", n, limit)
	}
	return nil
}
