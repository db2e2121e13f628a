package main

import (
	"context"
	"errors"
	"io"
)

// runLoadTest is the `loadtest` subcommand (not written yet).
func runLoadTest(ctx context.Context, args []string, stdout io.Writer) error {
	return errors.New("loadtest: not available in this build yet")
}
