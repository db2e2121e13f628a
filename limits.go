package main

// inputLimits are the request limits an operator can change.
type inputLimits struct {
	maxSamples    int     // iris samples in one batch_predict
	maxCalibRows  int     // rows in each calib_validation array
	maxIDLength   int     // characters in file_name / calib_id
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
