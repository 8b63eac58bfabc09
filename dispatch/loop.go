package dispatch

import (
	"fmt"
	"slices"
)

// LoopState is where a fever or infectious patient is in the closed loop: by
// negative-pressure unit to a fever clinic, screened there, then — a confirmed case to a
// designated hospital, a mild one to a Fangcang shelter — by a linked transfer of its own.
type LoopState string

// The loop's states.
const (
	LoopToClinic     LoopState = "to_clinic"    // the call is live: the patient is not at a fever clinic yet
	LoopAtClinic     LoopState = "at_clinic"    // handed over at a fever clinic: awaiting screening
	LoopConfirmed    LoopState = "confirmed"    // screened: a confirmed case; the transfer is being placed
	LoopMild         LoopState = "mild"         // screened: a mild case; the transfer is being placed
	LoopCleared      LoopState = "cleared"      // screened: not infectious; the loop ends at the clinic
	LoopTransferring LoopState = "transferring" // the linked transfer is on its way
	LoopAdmitted     LoopState = "admitted"     // handed over at the designated hospital or shelter: the loop ends
)

var loopMoves = map[LoopState][]LoopState{
	LoopToClinic:     {LoopAtClinic},
	LoopAtClinic:     {LoopConfirmed, LoopMild, LoopCleared},
	LoopConfirmed:    {LoopTransferring},
	LoopMild:         {LoopTransferring},
	LoopTransferring: {LoopAdmitted},
}

// CanLoop reports whether the loop may step from one state to the other.
func CanLoop(from, to LoopState) bool { return slices.Contains(loopMoves[from], to) }

// LoopError is a step the loop cannot take from where it is; it matches
// ErrIllegalTransition.
type LoopError struct {
	CallID   string
	From, To LoopState
}

func (e *LoopError) Error() string {
	return fmt.Sprintf("call %s: the fever patient's loop cannot go %s → %s", e.CallID, e.From, e.To)
}

// Is makes errors.Is(err, ErrIllegalTransition) true.
func (e *LoopError) Is(target error) bool { return target == ErrIllegalTransition }

// LoopFacts is what the record says of one fever patient: the call and where its unit
// took them, the screening's outcome, and the transfer's progress.
type LoopFacts struct {
	CallID          string
	Isolation       bool   // the call is fever or infectious
	AtClinic        bool   // its patient was handed over at a fever clinic
	Outcome         string // the screening's: "confirmed", "mild", "cleared"; empty before it
	TransferPlaced  bool   // the linked transfer is in the record
	TransferHandled bool   // … and its patient was handed over at its destination
}

// LoopOf is where the facts put the patient in the loop.
func LoopOf(f LoopFacts) LoopState {
	switch {
	case f.TransferHandled:
		return LoopAdmitted
	case f.TransferPlaced:
		return LoopTransferring
	case f.Outcome != "":
		return LoopState(f.Outcome)
	case f.AtClinic:
		return LoopAtClinic
	}
	return LoopToClinic
}

// Screen checks that a screening outcome may be recorded for the facts' patient and returns
// the state it leads to. Refused: a call that is not fever or infectious, an unknown
// outcome, and every step the loop cannot take (a patient not at a clinic yet, one screened
// already).
func Screen(f LoopFacts, outcome string) (LoopState, error) {
	if !f.Isolation {
		return "", fmt.Errorf("call %s is neither fever nor infectious: it has no closed loop", f.CallID)
	}
	to := LoopState(outcome)
	if !slices.Contains(loopMoves[LoopAtClinic], to) {
		return "", fmt.Errorf("outcome %q: want confirmed, mild or cleared", outcome)
	}
	if from := LoopOf(f); !CanLoop(from, to) {
		return "", &LoopError{CallID: f.CallID, From: from, To: to}
	}
	return to, nil
}

// TransferPriority is the transfer's own priority: a confirmed case goes as priority 2 (an
// isolation bed at a designated hospital), a mild one as priority 3 (a Fangcang shelter, or a
// designated hospital outside surge mode).
func TransferPriority(outcome LoopState) int {
	if outcome == LoopConfirmed {
		return 2
	}
	return 3
}
