package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/sandbox/scenario"
)

// playInteractive starts the scenario (posts the alert, or passes the
// sweep time), then shows the thread with its buttons
// numbered and presses the one a person picks, as Alice or Bob, until no
// button is left or they stop.
func playInteractive(ctx context.Context, d *scenario.Driver, in *bufio.Scanner, out *screen) error {
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := d.Start(actx)
	cancel()
	if err != nil {
		return err
	}
	for {
		choices := d.Choices()
		var b strings.Builder
		fmt.Fprintf(&b, "\n%s\n", readable(d.Transcript()))
		if len(choices) == 0 {
			b.WriteString("No buttons are left in the thread.\n\n")
			return out.show(b.String())
		}
		b.WriteString("Buttons in the thread:\n")
		for i, c := range choices {
			fmt.Fprintf(&b, "  %d  [%s]  %s\n", i+1, c.Button.Text, readable(c.About))
		}
		b.WriteString("Press one: its number, then a for Alice (the default) or b for Bob, like 1a or 2b; q stops. > ")
		if err := out.show(b.String()); err != nil {
			return err
		}
		if !in.Scan() {
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		if line == "q" {
			return nil
		}
		n, who, err := parseChoice(line, len(choices))
		if err != nil {
			if err := out.show(err.Error() + "\n"); err != nil {
				return err
			}
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err = d.Press(pctx, who, choices[n-1])
		cancel()
		if err != nil {
			return err
		}
	}
}

// parseChoice reads "2", "2a", "2 b", "2 bob": a button's number and who
// presses it.
func parseChoice(s string, buttons int) (int, scenario.Person, error) {
	digits := strings.TrimRight(s, " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	person := strings.ToLower(strings.TrimSpace(s[len(digits):]))
	n, err := strconv.Atoi(strings.TrimSpace(digits))
	if err != nil || n < 1 || n > buttons {
		return 0, scenario.Person{}, fmt.Errorf("%q is not a button: type a number from 1 to %d, then a or b", s, buttons)
	}
	switch person {
	case "", "a", "alice":
		return n, scenario.Alice, nil
	case "b", "bob":
		return n, scenario.Bob, nil
	}
	return 0, scenario.Person{}, fmt.Errorf("%q: press as a (Alice) or b (Bob)", person)
}
