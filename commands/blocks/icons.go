package blocks

// One icon for each way a step, a run or a click can end, used for it
// everywhere: the checklist, the posts, the answered gates and the offer.
const (
	IconDone       = ":white_check_mark:"
	IconSkipped    = ":fast_forward:"
	IconFailed     = ":x:"
	IconCancelled  = ":no_entry_sign:"
	IconRolledBack = ":leftwards_arrow_with_hook:"
)
