package runstate

// ItemProgress is the live progress of a fan-out stage (event
// stage.progress, like ProgressReport: for the terminal only, neither
// audited nor logged): how many of its items are settled (ran, skipped,
// failed, blocked or interrupted), how many of those were skipped as up to
// date (they cost no time: an ETA leaves them out), and how many there are.
type ItemProgress struct {
	Done    int `json:"done"`
	Skipped int `json:"skipped"`
	Total   int `json:"total"`
}

func (ItemProgress) Event() string { return EvProgress }
