// Package sandbox serves an environment's Signon and cluster stand-ins
// over HTTP on loopback, and is the client a bot process uses to reach
// them. With it a test can SIGKILL the real bot binary and start it again
// against the same world, which the in-memory doubles alone cannot
// survive, and read that world (tokens issued, Jobs made) from outside
// the bot.
//
// It is for tests, benchmarks and demonstrations: the token plaintext that
// Issue returns crosses the loopback connection as the double made it.
package sandbox
