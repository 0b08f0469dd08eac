// Command bot is signon-token-bot: a Slack bot that rotates Signon API
// tokens as GOV.UK's runbook says, one thread per rotation. This is the
// binary the image ships; its program is cmd/internal/bot, wired to
// nothing but the real Slack, Redis, Signon and clusters.
package main

import "github.com/alphagov/signon-token-bot/cmd/internal/bot"

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() { bot.Main(bot.Program{Version: version}.Run) }
