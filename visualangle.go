package main

// Degrees of visual angle: an on-screen distance in CSS pixels seen from a
// viewing distance, as the eval command, the benchmark and the realtime
// validation report errors.

import "math"

// visualAngleDeg converts an on-screen distance of errPx CSS pixels to
// degrees: 2·atan(err·(screenWidthCm/screenWidthPx) / (2·distanceCm)).
func visualAngleDeg(errPx, screenWidthPx, screenWidthCm, distanceCm float64) float64 {
	return 2 * math.Atan(errPx*(screenWidthCm/screenWidthPx)/(2*distanceCm)) * 180 / math.Pi
}
