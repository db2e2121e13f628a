package main

// The samples a calibration is made of: iris readings (video pixels), the
// labelled ones taken while the user looked at a dot (CSS pixels), and the
// calibration the store keeps.

// irisSample is one face-mesh reading: iris centres in video pixels.
type irisSample struct {
	LeftX  float64 `json:"left_iris_x"`
	LeftY  float64 `json:"left_iris_y"`
	RightX float64 `json:"right_iris_x"`
	RightY float64 `json:"right_iris_y"`
}

// labelledSample is an iris reading taken while the user looked at the dot
// (PointX, PointY), in CSS pixels.
type labelledSample struct {
	irisSample
	PointX float64 `json:"point_x"`
	PointY float64 `json:"point_y"`
}

// calibration is what the store keeps under one id.
type calibration struct {
	Fixed        []labelledSample
	Calib        []irisSample
	ScreenWidth  float64
	ScreenHeight float64
	Meta         calibrationMeta
}

// labelledKeys and irisKeyList are the keys of the two sample arrays.
var (
	labelledKeys = []string{"left_iris_x", "left_iris_y", "right_iris_x", "right_iris_y", "point_x", "point_y"}
	irisKeyList  = labelledKeys[:4]
)
