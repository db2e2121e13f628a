package main

// Overwrite protection (PROTECT_CALIBRATIONS): a calibration id can be
// replaced only from the client network that created it (the rate
// limiter's network: IPv4 /24, IPv6 /48 by default), so that a guessed id
// cannot be taken over mid-study.

import (
	"errors"
	"net/http"
	"sync"
)

// overwriteGuard records each calibration's creating network and, when
// protect is set, refuses replacements from other networks.
type overwriteGuard struct {
	protect  bool
	identity clientIdentity
	locks    sync.Map // id → *sync.Mutex: a check and its save happen as one
}

// claim sets c.Meta.Network to the network the calibration belongs to (its
// creator's when id exists, else the client's). With protection on it
// refuses, with 409, a client of another network, and holds the id until
// release is called (after the save), so that two first saves cannot both
// pass the check.
func (g *overwriteGuard) claim(r *http.Request, store calibrationStore, id string, c *calibration) (release func(), err error) {
	network := g.identity.prefixOf(g.identity.clientAddr(r), levelNetwork)
	c.Meta.Network = network
	if !g.protect {
		return func() {}, nil
	}
	m, _ := g.locks.LoadOrStore(id, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	existing, err := store.Meta(id)
	switch {
	case errors.Is(err, errCalibrationNotFound):
		return mu.Unlock, nil
	case err != nil:
		mu.Unlock()
		return nil, storeError("file_name", err)
	case existing.Network != "" && existing.Network != network:
		mu.Unlock()
		return nil, &apiError{Status: http.StatusConflict, Field: "file_name",
			Message: "a calibration with this id was created from another network and cannot be replaced from here (PROTECT_CALIBRATIONS); choose another id"}
	}
	if existing.Network != "" {
		c.Meta.Network = existing.Network
	}
	return mu.Unlock, nil
}
