package main

import (
	"context"
	"fmt"
	"io"
)

// demo will run the bot against the fake Slack, Signon and cluster and
// print the story of a rotation. Until then it says so.
func demo(_ context.Context, stdout io.Writer) error {
	_, err := fmt.Fprintln(stdout, "demo: not yet built")
	return err
}
