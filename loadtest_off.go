//go:build !loadtest

package main

// The server binary's stand-in for the load generator, which is built only
// with -tags loadtest.

import (
	"context"
	"errors"
	"io"
)

// loadTestBuilt reports whether this build holds the load generator.
const loadTestBuilt = false

// runLoadTest says how to get the load generator.
func runLoadTest(context.Context, []string, io.Writer) error {
	return errors.New("loadtest: this binary is the server alone; the load generator is built with -tags loadtest: go run -tags loadtest . loadtest -spawn")
}
