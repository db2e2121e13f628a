package main

// What the store keeps about a calibration besides its samples: when it was
// saved, its model, the participant's ids and the network that created it,
// in <id>_calibration.json beside the Python service's CSV files.

import (
	"encoding/json"
	"time"
)

// calibrationMeta describes a calibration.
type calibrationMeta struct {
	Created time.Time // when this version was saved
	Model   string    // the calibration request's model
	UserID  string    // RUXAILAB's user_id as sent ("" when absent or null)
	StudyID string    // RUXAILAB's study_id as sent
	Network string    // the network of the client that created the id (PROTECT_CALIBRATIONS)
}

// metaSuffix ends the metadata file's name: <id>_calibration.json.
const metaSuffix = "_calibration.json"

// metaFile is the JSON of a metadata file.
type metaFile struct {
	Created      time.Time `json:"created"`
	Model        string    `json:"model,omitempty"`
	UserID       string    `json:"user_id,omitempty"`
	StudyID      string    `json:"study_id,omitempty"`
	Network      string    `json:"network,omitempty"`
	Rows         int       `json:"rows"`
	ScreenWidth  float64   `json:"screen_width"`
	ScreenHeight float64   `json:"screen_height"`
}

// encodeMeta returns the metadata file of c.
func encodeMeta(c calibration) []byte {
	b, _ := json.Marshal(metaFile{
		Created: c.Meta.Created.UTC(), Model: c.Meta.Model, UserID: c.Meta.UserID, StudyID: c.Meta.StudyID,
		Network: c.Meta.Network, Rows: len(c.Fixed), ScreenWidth: c.ScreenWidth, ScreenHeight: c.ScreenHeight,
	})
	return append(b, '\n')
}

// parseMeta reads a metadata file.
func parseMeta(raw []byte) (calibrationMeta, error) {
	var m metaFile
	if err := json.Unmarshal(raw, &m); err != nil {
		return calibrationMeta{}, err
	}
	return calibrationMeta{Created: m.Created, Model: m.Model, UserID: m.UserID, StudyID: m.StudyID, Network: m.Network}, nil
}
