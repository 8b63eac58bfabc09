package sql

// KnownCallsSQL is the replay check's statement, for a test of its plan.
const KnownCallsSQL = knownCallsSQL
