package dispatch

import (
	"errors"
	"strings"
	"testing"
)

func TestTheLoopRefusesIllegalSteps(t *testing.T) {
	atClinic := LoopFacts{CallID: "F1", Isolation: true, AtClinic: true}
	for _, tc := range []struct {
		name    string
		facts   LoopFacts
		outcome string
		want    LoopState
		err     string
	}{
		{"confirmed at the clinic", atClinic, "confirmed", LoopConfirmed, ""},
		{"mild at the clinic", atClinic, "mild", LoopMild, ""},
		{"cleared at the clinic", atClinic, "cleared", LoopCleared, ""},
		{"not at the clinic yet", LoopFacts{CallID: "F1", Isolation: true}, "confirmed", "", "to_clinic → confirmed"},
		{"screened twice", LoopFacts{CallID: "F1", Isolation: true, AtClinic: true, Outcome: "mild"}, "confirmed", "", "mild → confirmed"},
		{"after the transfer left", LoopFacts{CallID: "F1", Isolation: true, AtClinic: true, Outcome: "confirmed", TransferPlaced: true}, "cleared", "", "transferring → cleared"},
		{"after admission", LoopFacts{CallID: "F1", Isolation: true, AtClinic: true, Outcome: "confirmed", TransferPlaced: true, TransferHandled: true}, "mild", "", "admitted → mild"},
		{"not a fever call", LoopFacts{CallID: "C1", AtClinic: true}, "confirmed", "", "neither fever nor infectious"},
		{"an unknown outcome", atClinic, "positive", "", `outcome "positive"`},
	} {
		got, err := Screen(tc.facts, tc.outcome)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: want an error saying %q, got %v", tc.name, tc.err, err)
		}
	}
	_, err := Screen(LoopFacts{CallID: "F1", Isolation: true}, "confirmed")
	var le *LoopError
	if !errors.As(err, &le) || !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("an illegal step is a *LoopError matching ErrIllegalTransition: %v", err)
	}
	for from, tos := range loopMoves {
		for _, to := range tos {
			if CanLoop(to, from) {
				t.Errorf("the loop goes back %s → %s", to, from)
			}
		}
	}
	if TransferPriority(LoopConfirmed) != 2 || TransferPriority(LoopMild) != 3 {
		t.Fatal("transfer priorities: confirmed 2, mild 3")
	}
}
