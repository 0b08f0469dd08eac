// Command demo runs the bot against a fake Slack, a Signon double and a
// cluster stand-in on loopback, plays a rotation and prints its Slack
// thread. It is a command of its own so that the bot's binary, cmd/bot,
// holds none of these stand-ins.
package main

import "github.com/alphagov/signon-token-bot/cmd/internal/bot"

func main() { bot.Main(demo) }
