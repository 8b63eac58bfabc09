package replay

import (
	"strings"

	"github.com/ems120/ems120/contract"
)

// triage maps words of a call's title (English 911 call types, as in the Montgomery County
// data) to a priority and category. The first match wins; the rest are priority 3, other.
// The mapping follows the usual dispatch-protocol grouping: immediately life-threatening
// (cardiac, breathing, stroke, unconscious, major bleeding or penetrating trauma) is 1;
// serious but not immediately life-threatening is 2; the rest 3.
var triage = []struct {
	word     string
	priority int
	category contract.Category
}{
	{"CARDIAC", 1, contract.CategoryCardiac},
	{"RESPIRATORY", 1, contract.CategoryRespiratory},
	{"CHOKING", 1, contract.CategoryRespiratory},
	{"STROKE", 1, contract.CategoryStroke},
	{"CVA", 1, contract.CategoryStroke},
	{"UNCONSCIOUS", 1, contract.CategoryOther},
	{"UNRESPONSIVE", 1, contract.CategoryOther},
	{"HEMORRHAGING", 1, contract.CategoryTrauma},
	{"SHOOTING", 1, contract.CategoryTrauma},
	{"STABBING", 1, contract.CategoryTrauma},
	{"AMPUTATION", 1, contract.CategoryTrauma},
	{"ELECTROCUTION", 1, contract.CategoryTrauma},
	{"VEHICLE ACCIDENT", 2, contract.CategoryTrauma},
	{"HEAD INJURY", 2, contract.CategoryTrauma},
	{"BURN", 2, contract.CategoryTrauma},
	{"MATERNITY", 2, contract.CategoryMaternity},
	{"SEIZURE", 2, contract.CategoryOther},
	{"OVERDOSE", 2, contract.CategoryOther},
	{"POISONING", 2, contract.CategoryOther},
	{"CARBON MONOXIDE", 2, contract.CategoryOther},
	{"ALTERED MENTAL", 2, contract.CategoryOther},
	{"DIABETIC", 2, contract.CategoryOther},
	{"ALLERGIC", 2, contract.CategoryOther},
	{"SYNCOP", 2, contract.CategoryOther},
	{"FEVER", 3, contract.CategoryFever},
	{"FALL", 3, contract.CategoryTrauma},
	{"FRACTURE", 3, contract.CategoryTrauma},
	{"ASSAULT", 3, contract.CategoryTrauma},
	{"LACERATION", 3, contract.CategoryTrauma},
}

// Triage is the priority and category of a call from its title.
func Triage(title string) (int, contract.Category) {
	t := strings.ToUpper(title)
	for _, m := range triage {
		if strings.Contains(t, m.word) {
			return m.priority, m.category
		}
	}
	return 3, contract.CategoryOther
}
