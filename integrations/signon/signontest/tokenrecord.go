package signontest

// EnvTokenRecord names the file that a double built with the tokenrecord
// tag appends every token it makes to, one "fingerprint plaintext" line
// each, so that cmd/reliability's leak scan knows what to look for in the
// output of the end-to-end tests and the demo. Builds without the tag
// (the bot's among them) hold no such code.
const EnvTokenRecord = "SIGNON_BOT_TOKEN_RECORD"
