//go:build !loadtest

package main

// The server binary's stand-in for the load generator and the comparison,
// which are built only with -tags loadtest.

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

// runCompare says how to get the comparison, part of the load generator.
func runCompare(context.Context, []string, io.Writer) error {
	return errors.New("compare: this binary is the server alone; the comparison is built with -tags loadtest: go run -tags loadtest . compare OLD NEW")
}
